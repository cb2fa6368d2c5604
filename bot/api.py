"""The operator JSON API under ``/api``: token auth, validated bodies, and its OpenAPI document.

Feature modules declare their endpoints on an ``ApiRoutes`` with pydantic models for the
request body; this module validates bodies (400 with the field that is wrong), turns
``ApiError`` into JSON errors, checks the bearer token (``[api] token``, the service token, or
whatever the ``API_HOOKS`` token verifier accepts: the console's per-user tokens), and builds
``/api/openapi.json`` from the same declarations, so the document cannot drift from the code.
Writes (non-GET) that succeed are reported to ``API_HOOKS.record_write`` (the audit log).
It holds no endpoints of its own beyond the document, and knows nothing of users or audit.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.appkeys import CONFIG

log = logging.getLogger(__name__)

ApiHandler = Callable[..., Awaitable[Any]]


class ApiError(Exception):
    """An error the operator caused; becomes ``{"error": message}`` with `status`."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


@dataclass(frozen=True)
class ApiCaller:
    """Who a bearer token speaks for: the service token (no user) or a staff account."""

    user_id: int | None
    name: str
    read_only: bool = False


SERVICE_CALLER = ApiCaller(None, "API 服务令牌")
UNKNOWN_CALLER = ApiCaller(None, "未知调用方")
CALLER = web.RequestKey("api_caller", ApiCaller)  # who an authenticated request is from


@dataclass(frozen=True)
class ApiHooks:
    """What another package plugs into the API: more bearer tokens, and a record of writes."""

    verify_token: Callable[[web.Request, str], Awaitable[ApiCaller | None]]
    record_write: Callable[[web.Request, ApiCaller, Operation, BaseModel | None], Awaitable[None]]


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    handler: ApiHandler
    body: type[BaseModel] | None
    query: dict[str, str]
    tag: str


@dataclass
class ApiRoutes:
    """A feature's endpoints, declared with their request models and summaries."""

    tag: str
    operations: list[Operation] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        body: type[BaseModel] | None = None,
        query: dict[str, str] | None = None,
    ) -> Callable[[ApiHandler], ApiHandler]:
        """Declare an endpoint; the handler gets ``(request)`` or ``(request, body)``."""

        def register(func: ApiHandler) -> ApiHandler:
            self.operations.append(
                Operation(method.upper(), path, summary, func, body, query or {}, self.tag)
            )
            return func

        return register


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, default=str),
        status=status,
        content_type="application/json",
    )


def _error(status: int, message: str, **details: Any) -> web.Response:
    return json_response({"error": message, **details}, status=status)


def _wrap(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = None
            if op.body is not None:
                try:
                    raw = await request.json()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    return _error(400, "request body must be JSON")
                try:
                    body = op.body.model_validate(raw)
                except ValidationError as exc:
                    problems = [
                        {
                            "field": ".".join(str(p) for p in e["loc"]) or "(body)",
                            "problem": e["msg"],
                        }
                        for e in exc.errors()
                    ]
                    first = problems[0]
                    return _error(400, f"{first['field']}: {first['problem']}", problems=problems)
                result = await op.handler(request, body)
            else:
                result = await op.handler(request)
        except ApiError as exc:
            return _error(exc.status, exc.message, **exc.details)
        if op.method != "GET" and (hooks := request.config_dict.get(API_HOOKS)) is not None:
            if not isinstance(result, web.StreamResponse) or result.status < 400:
                await hooks.record_write(request, request.get(CALLER, UNKNOWN_CALLER), op, body)
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result, status=201 if op.method == "POST" else 200)

    return handle


@web.middleware
async def _auth(request: web.Request, handler):
    if request.path.endswith("/openapi.json"):
        return await handler(request)
    expected = request.config_dict[CONFIG].api.token
    hooks = request.config_dict.get(API_HOOKS)
    if not expected and hooks is None:
        return _error(401, "the operator API is off: set [api] token (or LAOKE_API_TOKEN)")
    given = request.headers.get("Authorization", "")
    token = given[7:] if given.startswith("Bearer ") else ""
    caller = None
    if expected and token and hmac.compare_digest(token.encode(), expected.encode()):
        caller = SERVICE_CALLER
    elif hooks is not None and token:
        caller = await hooks.verify_token(request, token)
    if caller is None:
        return _error(401, "missing or wrong API token (Authorization: Bearer <token>)")
    if caller.read_only and request.method not in ("GET", "HEAD", "OPTIONS"):
        return _error(403, "this token is read-only; create a read-write token to change data")
    request[CALLER] = caller
    return await handler(request)


API_HOOKS = web.AppKey("api_hooks", ApiHooks)


def openapi_document(route_sets: Sequence[ApiRoutes]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every declared endpoint."""
    paths: dict[str, dict[str, Any]] = {}
    for routes in route_sets:
        for op in routes.operations:
            entry: dict[str, Any] = {
                "summary": op.summary,
                "tags": [op.tag],
                "operationId": op.handler.__name__,
                "responses": {
                    "200": {"description": "OK"},
                    "400": {"description": "Invalid request; the message names the field"},
                    "401": {"description": "Missing or wrong token"},
                },
            }
            params = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _path_params(op.path)
            ]
            params += [
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": desc,
                }
                for name, desc in op.query.items()
            ]
            if params:
                entry["parameters"] = params
            if op.body is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": op.body.model_json_schema()}},
                }
            paths.setdefault("/api" + op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Laoke operator API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def setup(app: web.Application, route_sets: Sequence[ApiRoutes]) -> None:
    """Mount the API sub-application at /api with every feature's routes."""
    api = web.Application(middlewares=[_auth])
    for routes in route_sets:
        for op in routes.operations:
            api.router.add_route(op.method, op.path, _wrap(op))
    document = openapi_document(route_sets)

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(document)

    api.router.add_get("/openapi.json", openapi)
    app.add_subapp("/api", api)
