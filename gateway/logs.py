"""What the gateway writes to its log about failed requests: never personal data.

strawberry's default logs each error with its message, its source excerpt and the
original exception: for a refused mutation that is the whole document or the
variables (emails, phones, names) in the gateway log. `GatewaySchema` logs one line
per request instead: the operation name, the error codes and the request id (which
the client gets back in ``X-Request-ID``, so support can find the line). An
unexpected error adds its exception type and the frames of its traceback, without
the exception's message (which may quote values).
"""

from __future__ import annotations

import logging
import re
import traceback
from contextvars import ContextVar

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from gateway.errors import INTERNAL, classify

log = logging.getLogger("crm.gateway")

REQUEST_ID_HEADER = "x-request-id"
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")
"""The request being served, for every log line written while serving it."""
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on each record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def client_request_id(value: str | None) -> str | None:
    """A client's X-Request-ID when it is a plain token (it ends up in the log)."""
    return value if value and _CLIENT_REQUEST_ID.fullmatch(value) else None


def without_suggestions(error: GraphQLError) -> GraphQLError:
    """Drop graphql-core's "Did you mean …?" hints, which tell a prober the field names."""
    error.message = _SUGGESTION.sub("", error.message)
    return error


def error_line(errors: list[GraphQLError], context: ExecutionContext | None) -> str:
    """``operation=… codes=… request=…``: what the log says about a failed request."""
    codes = sorted({str((classify(e).extensions or {}).get("code")) for e in errors})
    operation = (context.operation_name if context else None) or "anonymous"
    request_id = getattr(context.context if context else None, "request_id", None) or "-"
    return f"graphql errors: operation={operation} codes={','.join(codes)} request={request_id}"


def _internal_detail(errors: list[GraphQLError]) -> str:
    """Type and frames of unexpected exceptions, without their messages."""
    parts = []
    for error in errors:
        original = error.original_error
        if (error.extensions or {}).get("code") == INTERNAL and original is not None:
            frames = "".join(traceback.format_tb(original.__traceback__))
            parts.append(f"{type(original).__name__} at\n{frames}")
    return "\n".join(parts)


class GatewaySchema(strawberry.Schema):
    """strawberry's schema with the logging above instead of its own."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        if not errors:
            return
        line = error_line(errors, execution_context)
        detail = _internal_detail(errors)
        if detail:
            log.error("%s\n%s", line, detail)
        else:
            log.warning("%s", line)
