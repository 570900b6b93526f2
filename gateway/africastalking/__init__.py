"""Africa's Talking: sender, wire format, callback parsers, config and gateway-test diagnoses."""

from gateway.africastalking.config import AfricasTalkingConfig
from gateway.africastalking.sender import AfricasTalkingGateway, build_ssl_context

__all__ = ["AfricasTalkingConfig", "AfricasTalkingGateway", "build_ssl_context"]
