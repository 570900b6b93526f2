"""The local console front: POST /console/command behind a token, for `smsops chat`."""

from handlers.chat.console._front import KIND, ConsoleFront, LogSurface
from handlers.chat.console._token import read_console_token, token_path, write_token_file

__all__ = [
    "KIND",
    "ConsoleFront",
    "LogSurface",
    "read_console_token",
    "token_path",
    "write_token_file",
]
