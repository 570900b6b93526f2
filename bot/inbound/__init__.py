"""Inbound SMS: every message stored once, keywords obeyed, replies queued, the rest to staff."""

from bot.inbound.service import InboundService

__all__ = ["InboundService"]
