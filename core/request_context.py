"""The current request's id, visible to audit and logging without threading it through calls."""

from __future__ import annotations

import contextvars
import re
import uuid

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_channel: contextvars.ContextVar[str] = contextvars.ContextVar("channel", default="command")

# Accept a caller's X-Request-ID only when it is a plain token; anything else could smuggle
# text (or PHI) into logs.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id(candidate: str | None = None) -> str:
    if candidate and _SAFE_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


def set_request(request_id: str, channel: str) -> tuple[contextvars.Token, contextvars.Token]:
    return _request_id.set(request_id), _channel.set(channel)


def reset_request(tokens: tuple[contextvars.Token, contextvars.Token]) -> None:
    _request_id.reset(tokens[0])
    _channel.reset(tokens[1])


def current_request_id() -> str:
    return _request_id.get()


def current_channel() -> str:
    return _channel.get()
