"""Dispatch: claiming outbox batches, sending through the routed gateways, settling results."""

from bot.dispatch.delivery import DeliveryService
from bot.dispatch.worker import Dispatcher

__all__ = ["DeliveryService", "Dispatcher"]
