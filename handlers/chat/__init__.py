"""Chat-ops: one command layer for Slack, Telegram and the local console."""
