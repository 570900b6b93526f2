"""smsops: chat-ops bot and SMS keyword responder."""

__version__ = "0.1.0"
