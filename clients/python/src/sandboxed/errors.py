"""Typed errors. Every error the API answers becomes a SandboxedError subclass chosen by
its `code` (and, for answers without sandboxd's JSON error body, by the HTTP status)."""

from __future__ import annotations

from typing import Optional


class SandboxedError(Exception):
    """An API error answer, or a failure to get one.

    status: the HTTP status (None when no answer came).
    code: sandboxd's error code ("not_found", "invalid_request", ...), or a client-side
      code ("connection_error", "wait_timeout", "stream_error").
    message: what went wrong, in sandboxd's words when it answered.
    request_id: the X-Request-Id of the answer (quote it when reporting a problem).
    retry_after: the Retry-After header in seconds, when the answer carried one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        code: Optional[str] = None,
        request_id: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [f"{self.status}" if self.status is not None else None, self.code]
        head = " ".join(p for p in parts if p)
        tail = f" (request_id {self.request_id})" if self.request_id else ""
        return f"{head}: {self.message}{tail}" if head else f"{self.message}{tail}"


class InvalidArgumentError(SandboxedError):
    """400 invalid_request: bad input; nothing was changed. Do not retry unchanged."""


class UnauthorizedError(SandboxedError):
    """401 unauthorized: missing or wrong bearer token."""


class ForbiddenError(SandboxedError):
    """403 forbidden: the request looked like a browser's from elsewhere."""


class NotFoundError(SandboxedError):
    """404 not_found: no such sandbox, task, snapshot, file or route."""


class ConflictError(SandboxedError):
    """409 conflict: the state forbids it (id taken, a task already running, ...)."""


class TooLargeError(SandboxedError):
    """413 too_large: the body or the file is over its limit."""


class UnsupportedMediaTypeError(SandboxedError):
    """415 unsupported_media_type."""


class CapacityError(SandboxedError):
    """429 capacity: a cap on sandboxes or snapshots was reached; nothing was changed."""


class InternalError(SandboxedError):
    """500 internal (or any other 5xx without a more specific class)."""


class UnavailableError(SandboxedError):
    """503 unavailable: sandboxd did nothing; retry after `retry_after` seconds."""


class GatewayTimeoutError(SandboxedError):
    """504 timeout: a docker call timed out. GET the sandbox; stop, start, delete and
    purge are safe to repeat."""


class SandboxedConnectionError(SandboxedError):
    """No answer: the connection failed, was reset or timed out."""


class WaitTimeoutError(SandboxedError, TimeoutError):
    """A client-side wait (wait_for_app, tasks.run) reached its deadline."""


_BY_CODE = {
    "invalid_request": InvalidArgumentError,
    "unauthorized": UnauthorizedError,
    "forbidden": ForbiddenError,
    "not_found": NotFoundError,
    "conflict": ConflictError,
    "too_large": TooLargeError,
    "unsupported_media_type": UnsupportedMediaTypeError,
    "capacity": CapacityError,
    "unavailable": UnavailableError,
    "timeout": GatewayTimeoutError,
    "internal": InternalError,
}

_BY_STATUS = {
    400: InvalidArgumentError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    415: UnsupportedMediaTypeError,
    429: CapacityError,
    503: UnavailableError,
    504: GatewayTimeoutError,
}


def error_class(status: int, code: Optional[str]) -> type[SandboxedError]:
    """The class for an error answer: by sandboxd's code, else by the HTTP status."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return InternalError if status >= 500 else SandboxedError
