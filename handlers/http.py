"""HTTP plumbing shared by the routes: JSON errors, error middleware, bodies, bearer auth."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from bot.config.types import Person
from bot.contacts.files import ContactFileError
from bot.contacts.phones import PhoneError
from bot.errors import Forbidden, NotFound, UserError
from bot.server import CORE
from gateway.base import PayloadError

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, code: str, message: str, **headers: str) -> web.Response:
    """An error response: {"error": {"code", "message"}}."""
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers or None
    )


def route_template(request: web.Request) -> str:
    """The matched route as registered (`/callbacks/africastalking/{secret}/…`), never the path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "(no route)"


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map known errors to 4xx JSON; anything unexpected is logged and answered 500 JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            extra = {k: v for k, v in exc.headers.items() if k.lower() == "www-authenticate"}
            code = exc.reason.lower().replace(" ", "_")
            return json_error(exc.status, code, exc.text or exc.reason, **extra)
        raise
    except web.RequestPayloadError:  # e.g. a body that is not the Content-Encoding it claims
        return json_error(400, "bad_request", "the body could not be read")
    except NotFound as exc:
        return json_error(404, "not_found", str(exc))
    except Forbidden as exc:
        return json_error(403, "forbidden", str(exc))
    except (UserError, PhoneError, ContactFileError) as exc:
        return json_error(422, "invalid", str(exc))
    except PayloadError as exc:
        return json_error(400, "bad_request", str(exc))
    except UnicodeDecodeError:
        return json_error(400, "bad_encoding", "the body is not valid UTF-8")
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, route_template(request))
        return json_error(500, "internal", "internal error; see the server log")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400/415 naming the problem."""
    if request.content_type != "application/json":
        raise web.HTTPUnsupportedMediaType(text="send Content-Type: application/json")
    raw = await request.read()
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise web.HTTPBadRequest(text="the body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise web.HTTPBadRequest(
            text=f"invalid JSON at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, RecursionError):  # a number of over 4300 digits, or nesting too deep
        raise web.HTTPBadRequest(text="JSON too deeply nested or with too long a number") from None
    if not isinstance(value, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return value


async def read_form(request: web.Request) -> dict[str, str]:
    """A urlencoded or multipart form as plain strings, or a 400 naming the problem."""
    try:
        form = await request.post()
    except UnicodeDecodeError:
        raise web.HTTPBadRequest(text="the form is not valid UTF-8") from None
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"unreadable form: {exc}") from None
    except LookupError:  # charset=no-such-charset
        raise web.HTTPBadRequest(text="unknown character set in the form") from None
    out: dict[str, str] = {}
    for key, value in form.items():
        if not isinstance(value, str):
            raise web.HTTPBadRequest(text=f"field {key}: file uploads are not accepted")
        out[key] = value
    return out


def field(body: Mapping[str, Any], name: str, kind: type, *, required: bool = True) -> Any:
    """A typed field of a JSON body, or a 422 naming it."""
    if name not in body or body[name] is None:
        if required:
            raise UserError(f"{name}: missing")
        return None
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise UserError(f"{name}: must be {kind.__name__}")
    return value


def secret_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret."""
    return hmac.compare_digest(given.encode(), expected.encode())


def bearer_person(request: web.Request) -> Person:
    """The configured person behind the request's bearer token, or 401."""
    core = request.app[CORE]
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise web.HTTPUnauthorized(
            text="send Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"}
        )
    for known, person_id in core.config.api_tokens.items():
        if secret_matches(token.strip(), known):
            return core.config.people[person_id]
    raise web.HTTPUnauthorized(text="unknown token", headers={"WWW-Authenticate": "Bearer"})
