"""Africa's Talking: the bulk SMS sender, its wire format and its callback parsers."""

from gateway.africastalking.sender import AfricasTalkingGateway, build_ssl_context

__all__ = ["AfricasTalkingGateway", "build_ssl_context"]
