"""The table of gateway kinds: a new gateway is one folder under gateway/ plus one entry here.

Config reading (bot.config), building (bot.server), secret redaction (Config.secrets), the
callback routes (handlers.callbacks) and `smsops gateway test` all go through this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from gateway.africastalking import config as africastalking
from gateway.africastalking.callbacks import parse_delivery_report, parse_inbound
from gateway.africastalking.config import AfricasTalkingConfig
from gateway.africastalking.diagnoses import diagnose as diagnose_africastalking
from gateway.contract import Callbacks, GatewayKind
from gateway.modem import config as modem
from gateway.modem.config import ModemsConfig
from gateway.simulator import config as simulator
from gateway.simulator.config import SimulatorConfig

SIMULATOR: Final[GatewayKind[SimulatorConfig]] = GatewayKind(
    name="simulator",
    read=simulator.read_config,
    build=simulator.build,
    default=SimulatorConfig(),
)
AFRICASTALKING: Final[GatewayKind[AfricasTalkingConfig]] = GatewayKind(
    name="africastalking",
    read=africastalking.read_config,
    build=africastalking.build,
    secrets=africastalking.secrets,
    callbacks=Callbacks(
        secret=africastalking.callback_secret,
        delivery=parse_delivery_report,
        inbound=parse_inbound,
    ),
    diagnose=diagnose_africastalking,
)
MODEM: Final[GatewayKind[ModemsConfig]] = GatewayKind(
    name="modem",
    read=modem.read_config,
    build=modem.build,
    untestable="to test a modem, run `smsops modem probe PORT`",
)

# In this order config is read (so are its problems listed) and gateways are built.
KINDS: Final[tuple[GatewayKind[Any], ...]] = (SIMULATOR, AFRICASTALKING, MODEM)
NAMES: Final = tuple(kind.name for kind in KINDS)
BY_NAME: Final[Mapping[str, GatewayKind[Any]]] = {kind.name: kind for kind in KINDS}


def default_settings() -> dict[str, Any]:
    """Each kind's settings when the config has no [gateways] table."""
    return {kind.name: kind.default for kind in KINDS if kind.default is not None}


def secrets_of(configured: Mapping[str, Any]) -> list[str]:
    """Every secret the configured kinds hold, in table order."""
    values: list[str] = []
    for kind in KINDS:
        settings = configured.get(kind.name)
        if settings is not None:
            values += kind.secrets(settings)
    return values
