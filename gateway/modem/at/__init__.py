"""The AT command channel: lines, the prompt, unsolicited result codes and AT errors."""
