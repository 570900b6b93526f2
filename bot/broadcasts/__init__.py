"""The broadcast lifecycle: audience, composition, preview, four-eyes approval, scheduling."""

from bot.broadcasts.service import BroadcastService

__all__ = ["BroadcastService"]
