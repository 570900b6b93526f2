"""In-process fakes of the external services smsops talks to (loopback only)."""
