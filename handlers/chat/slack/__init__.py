"""The Slack front: the /sms slash command and buttons over slack-bolt, posting with Block Kit."""

from handlers.chat.slack._blocks import slack_blocks, slack_text
from handlers.chat.slack._front import KIND, SlackFront
from handlers.chat.slack._surface import SlackSurface

__all__ = ["KIND", "SlackFront", "SlackSurface", "slack_blocks", "slack_text"]
