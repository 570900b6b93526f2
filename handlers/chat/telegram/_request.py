"""python-telegram-bot's HTTP requests over the app's one aiohttp ClientSession."""

from __future__ import annotations

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

DEFAULT_TIMEOUT = 30.0


class AiohttpRequest(BaseRequest):
    """A BaseRequest that posts forms with the shared session; the app owns the session."""

    def __init__(self, session: aiohttp.ClientSession, *, timeout: float = DEFAULT_TIMEOUT):
        self._session = session
        self._timeout = timeout

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds."""
        return self._timeout

    async def initialize(self) -> None:
        """Nothing to open: the session already exists."""

    async def shutdown(self) -> None:
        """Nothing to close: the app closes the session."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one Bot API request and return (status, body)."""
        if request_data is not None and request_data.contains_files:
            raise NetworkError("file uploads are not supported by smsops")
        data = request_data.json_parameters if request_data is not None else None
        read = read_timeout if isinstance(read_timeout, (int, float)) else self._timeout
        connect = connect_timeout if isinstance(connect_timeout, (int, float)) else self._timeout
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                timeout=timeout,
                headers={"User-Agent": self.USER_AGENT},
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
