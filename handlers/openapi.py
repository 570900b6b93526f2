"""The OpenAPI 3 document describing /api/v1."""

from __future__ import annotations

from typing import Any

from bot import __version__
from bot.views import BroadcastKind


def _error() -> dict[str, Any]:
    return {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str, *, body: dict[str, Any] | None, ok: str, ok_schema: str, params: bool = False
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {
            ok: {"description": "ok", **_json({"$ref": f"#/components/schemas/{ok_schema}"})},
            **{code: _error() for code in ("400", "401", "403", "404", "409", "413", "415", "422")},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
        ]
    return op


def openapi_document(server_url: str) -> dict[str, Any]:
    """The document, with the configured public URL as its server."""
    string = {"type": "string"}
    send = {
        "type": "object",
        "required": ["to", "message"],
        "properties": {"to": string, "message": string},
    }
    create = {
        "type": "object",
        "required": ["audience", "message"],
        "properties": {
            "audience": string,
            "message": string,
            "send_at": {"type": "string", "format": "date-time"},
            "kind": {"type": "string", "enum": list(BroadcastKind)},
            "sender_id": string,
        },
    }
    retry = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
    ids = {
        "type": "object",
        "required": ["ids"],
        "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "smsops API", "version": __version__},
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": string, "message": string},
                        }
                    },
                },
                "Id": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {"id": {"type": "integer"}},
                },
                "Queued": {
                    "type": "object",
                    "properties": {"id": {"type": "integer"}, "state": string},
                },
                "Broadcast": {
                    "type": "object",
                    "required": ["id", "state", "counts"],
                    "properties": {
                        "id": {"type": "integer"},
                        "state": string,
                        "kind": string,
                        "audience": string,
                        "message": string,
                        "recipients": {"type": "integer"},
                        "preview": {"type": "object"},
                        "counts": {"type": "object"},
                        "outcome": string,
                        "detail": string,
                    },
                },
                "Statuses": {
                    "type": "object",
                    "properties": {"messages": {"type": "array", "items": {"type": "object"}}},
                },
            },
        },
        "paths": {
            "/api/v1/sms/send": {"post": _op("Send one SMS", body=send, ok="202", ok_schema="Id")},
            "/api/v1/sms/retry": {
                "post": _op(
                    "Retry a failed or unknown SMS", body=retry, ok="202", ok_schema="Queued"
                )
            },
            "/api/v1/sms/delivery_report": {
                "post": _op("Statuses of messages", body=ids, ok="200", ok_schema="Statuses")
            },
            "/api/v1/broadcasts": {
                "post": _op(
                    "Compose a broadcast (returns its preview)",
                    body=create,
                    ok="201",
                    ok_schema="Broadcast",
                )
            },
            "/api/v1/broadcasts/{id}": {
                "get": _op(
                    "A broadcast's state and counts",
                    body=None,
                    ok="200",
                    ok_schema="Broadcast",
                    params=True,
                )
            },
            "/api/v1/broadcasts/{id}/approve": {
                "post": _op(
                    "Approve a broadcast", body=None, ok="200", ok_schema="Broadcast", params=True
                )
            },
            "/api/v1/broadcasts/{id}/cancel": {
                "post": _op(
                    "Cancel a broadcast", body=None, ok="200", ok_schema="Broadcast", params=True
                )
            },
        },
    }
