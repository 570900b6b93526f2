"""The simulator in config: [gateways.simulator] and the gateway built from it."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.contract import ConfigReader, Wiring
from gateway.simulator.gateway import SimulatorGateway


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """The built-in simulator gateway."""

    delivery_delay_seconds: float = 1.0
    delivery_status: str = "Success"


def read_config(gateways: ConfigReader) -> SimulatorConfig | None:
    """[gateways.simulator], or None when the table is absent."""
    t = gateways.table("simulator")
    if t is None:
        return None
    return SimulatorConfig(
        delivery_delay_seconds=t.number("delivery_delay_seconds", 1.0, minimum=0),
        delivery_status=t.text("delivery_status", "Success"),
    )


def build(sim: SimulatorConfig, wiring: Wiring) -> SimulatorGateway:
    """A simulator that reports delivery to the app after its delay."""
    return SimulatorGateway(
        delivery_delay_seconds=sim.delivery_delay_seconds,
        delivery_status=sim.delivery_status,
        on_report=wiring.on_report,
    )
