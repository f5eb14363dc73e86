"""GraphQL over HTTP and WebSocket: authentication, media types and status codes.

HTTP follows the GraphQL-over-HTTP specification:

- GET (queries only) and POST (queries and mutations); other methods 405 with
  ``Allow``; a mutation over GET 405 with ``Allow: POST``; subscriptions only over
  WebSocket (400 over HTTP);
- POST bodies must be ``application/json`` (else 415) and a JSON object with a string
  ``query`` (malformed JSON, or any other shape, is 400); bodies over 1 MiB are 413, refused by
  their Content-Length before authentication;
- responses are ``application/graphql-response+json`` when the client accepts it, else
  ``application/json``; a client accepting neither gets 406. With the former a request
  error (parse, validation, variables; the response has no ``data``) is 400, with the
  latter 200, as the specification says;
- every request needs ``Authorization: Bearer <JWT>`` (401 with ``WWW-Authenticate``
  otherwise), except the GraphiQL page a browser gets from ``GET /graphql``.

WebSocket speaks graphql-transport-ws only; the token comes in ``connection_init``
(``{"Authorization": "Bearer …"}``) or in the handshake's Authorization header, and a
connection without a valid one is closed with 4403.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import orjson
from anyio import to_thread
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET, UnsetType

from gateway.auth import (
    IdentityProvider,
    Principal,
    TokenVerifier,
    Unauthenticated,
    bearer_token,
    token_of_connection_params,
)
from gateway.context import GatewayContext
from gateway.deps import GatewayDeps
from gateway.errors import UNAUTHENTICATED, classify
from gateway.graphiql import graphiql_html
from gateway.logs import (
    REQUEST_ID_HEADER,
    client_request_id,
    current_request_id,
    without_suggestions,
)

GRAPHQL_RESPONSE = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
REQUEST_ERROR = "crm_graphql_request_error"


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when nothing fits (406).

    No header, or only wildcards, means ``application/json`` (what legacy clients
    expect); an explicit ``application/graphql-response+json`` wins on equal quality.
    """
    if accept is None or not accept.strip():
        return APPLICATION_JSON
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE:
            candidate = (quality, 1, GRAPHQL_RESPONSE)
        elif media in (APPLICATION_JSON, "application/*", "*/*"):
            candidate = (quality, 0, APPLICATION_JSON)
        else:
            continue
        if candidate[0] > 0 and (best is None or candidate[:2] > best[:2]):
            best = candidate
    return best[2] if best else None


def error_response(
    status: int,
    message: str,
    media: str | None,
    code: str | None = None,
    reason: str | None = None,
    **headers: str,
) -> Response:
    """`reason`: the finer code of a refusal (e.g. TOKEN_EXPIRED beside UNAUTHENTICATED)."""
    error: dict[str, Any] = {"message": message}
    if code:
        error["extensions"] = {"code": code, **({"reason": reason} if reason else {})}
    return JSONResponse(
        {"errors": [error]},
        status_code=status,
        media_type=media or APPLICATION_JSON,
        headers=headers or None,
    )


def _is_request_error(result: ExecutionResult) -> bool:
    """Errors before execution (no path anywhere, no data): the response has no data."""
    return (
        result.data is None
        and bool(result.errors)
        and all(e.path is None for e in result.errors or ())
    )


class GatewayView(GraphQL[GatewayContext, None]):
    """strawberry's ASGI view with the gateway's authentication and HTTP semantics."""

    def __init__(
        self,
        schema: BaseSchema,
        deps: GatewayDeps,
        *,
        jwt_secret: str,
        production: bool,
        identity: IdentityProvider | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None if production else "graphiql",
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=deps.limits.max_subscriptions_per_connection,
        )
        self.deps = deps
        self.jwt_secret = jwt_secret
        self.production = production
        self.tokens = TokenVerifier(
            jwt_secret, identity, max_lifetime=deps.limits.max_token_lifetime
        )

    def encode_json(self, data: object) -> str | bytes:
        """Answers written by orjson (the standard library's encoder was ~1% of a
        mutation's CPU, more of a list page's): the same JSON, non-ASCII as UTF-8 rather
        than escaped. Text, not bytes: a subscription's messages go in text frames."""
        try:
            return orjson.dumps(data).decode()
        except TypeError:  # what orjson does not write (an int over 64 bits, say)
            return super().encode_json(data)

    async def authenticate(self, header: str | None) -> Principal:
        """The caller's principal. A provider's token may need its key set fetched (on
        start and rotation): that runs in a thread, never blocking the event loop."""
        token = bearer_token(header)
        known = self.tokens.remembered(token)
        if known is not None:
            return known
        if self.tokens.is_local(token):
            return self.tokens.verify(token)
        return await to_thread.run_sync(self.tokens.verify, token)

    # -- HTTP ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            response = await self.handle_http(request)
            await response(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        return False  # decided in `handle_http`, before authentication

    def wants_graphiql(self, request: Request) -> bool:
        return (
            not self.production
            and request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )

    async def handle_http(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return error_response(
                405, "GraphQL is served over GET and POST", None, Allow="GET, POST"
            )
        if self.wants_graphiql(request):
            return HTMLResponse(graphiql_html())
        media = negotiate(request.headers.get("accept"))
        if media is None:
            return error_response(
                406, f"responses are {GRAPHQL_RESPONSE} or {APPLICATION_JSON}", None
            )
        if request.method == "POST" and self.declared_too_large(request):
            return self.too_large(media)
        try:
            principal = await self.authenticate(request.headers.get("authorization"))
        except Unauthenticated as error:
            return error_response(
                401,
                str(error),
                media,
                UNAUTHENTICATED,
                reason=error.code,
                **{"WWW-Authenticate": 'Bearer realm="crm", error="invalid_token"'},
            )
        if request.method == "POST":
            refused = await self.check_body(request, media)
            if refused is not None:
                return refused
        context = GatewayContext.new(self.deps, request)
        context.principal = principal
        context.request_id = client_request_id(request.headers.get(REQUEST_ID_HEADER)) or (
            context.request_id
        )
        current_request_id.set(context.request_id)
        try:
            response = await self.run(request, context=context)
        except HTTPException as error:
            extra = {"Allow": "POST"} if error.status_code == 405 else {}
            return error_response(error.status_code, error.reason, media, **extra)
        response.headers["content-type"] = f"{media}; charset=utf-8"
        response.headers[REQUEST_ID_HEADER] = context.request_id
        if media == GRAPHQL_RESPONSE and getattr(request.state, REQUEST_ERROR, False):
            response.status_code = 400
        return response

    def declared_too_large(self, request: Request) -> bool:
        """A declared Content-Length over the limit: refused before any other work."""
        declared = request.headers.get("content-length", "")
        return declared.isdigit() and int(declared) > self.deps.limits.max_body_bytes

    def too_large(self, media: str) -> Response:
        limit = self.deps.limits.max_body_bytes
        return error_response(413, f"bodies are limited to {limit} bytes", media)

    async def check_body(self, request: Request, media: str) -> Response | None:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != APPLICATION_JSON:
            return error_response(415, "POST bodies must be application/json", media)
        body = await request.body()
        if len(body) > self.deps.limits.max_body_bytes:
            return self.too_large(media)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return error_response(400, "the body is not valid JSON", media)
        problem = request_shape_problem(data)
        return error_response(400, problem, media) if problem else None

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: GatewayContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        method = request_adapter.method
        allowed = (
            {OperationType.QUERY}
            if method == "GET"
            else {OperationType.QUERY, OperationType.MUTATION}
        )
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type == OperationType.SUBSCRIPTION:
                raise HTTPException(
                    400, "subscriptions are served over WebSocket (graphql-transport-ws)"
                ) from error
            if method == "GET":
                raise HTTPException(405, "mutations need POST") from error
            raise HTTPException(400, error.as_http_error_reason(method)) from error
        except CannotGetOperationTypeError as error:
            raise HTTPException(400, error.as_http_error_reason()) from error
        except MissingQueryError as error:
            raise HTTPException(400, "no GraphQL query found in the request") from error

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        for error in result.errors or ():
            classify(error)  # parse errors skip the extensions' exit hooks
            if self.production:
                without_suggestions(error)
        data = process_result(result)
        if _is_request_error(result):
            data.pop("data", None)
            setattr(request.state, REQUEST_ERROR, True)
        return data

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(graphiql_html())

    # -- WebSocket ----------------------------------------------------------------------

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> GatewayContext:
        return GatewayContext.new(self.deps, request)

    async def on_ws_connect(self, context: GatewayContext) -> UnsetType | dict[str, object] | None:
        header = token_of_connection_params(context.connection_params)
        if header is None and context.request is not None:
            header = context.request.headers.get("authorization")
        try:
            context.principal = await self.authenticate(header)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": str(error), "code": error.code}) from error
        return UNSET


def request_shape_problem(data: object) -> str | None:
    """Why a decoded POST body is not a GraphQL request (None when it is one)."""
    if isinstance(data, list):
        return "batched requests are not supported"
    if not isinstance(data, Mapping):
        return "the body must be a JSON object"
    checks = (
        ("query", str),
        ("operationName", str),
        ("variables", dict),
        ("extensions", dict),
    )
    for name, kind in checks:
        value = data.get(name)
        if value is not None and not isinstance(value, kind):
            return f"`{name}` must be a {'string' if kind is str else 'JSON object'} or null"
    if data.get("query") is None:
        return "no GraphQL query found in the request"
    return None
