"""The simulator gateway: accepts every message, logs it, reports delivery after a delay."""

from gateway.simulator.config import SimulatorConfig
from gateway.simulator.gateway import SimulatorGateway

__all__ = ["SimulatorConfig", "SimulatorGateway"]
