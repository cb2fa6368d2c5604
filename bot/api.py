"""The operator JSON API under ``/api``: token auth, validated bodies, and its OpenAPI document.

Feature modules declare their endpoints on an ``ApiRoutes`` with pydantic models for the
request body; this module validates bodies (400 with the field that is wrong), turns
``ApiError`` into JSON errors, checks the bearer token (``[api] token``, the service token, or
whatever the ``API_HOOKS`` token verifier accepts: the console's per-user tokens), and builds
``/api/openapi.json`` from the same declarations, so the document cannot drift from the code.
Writes (non-GET) that succeed are reported to ``API_HOOKS.record_write`` (the audit log).
It holds no endpoints of its own beyond the document, and knows nothing of users or audit.

Nothing a caller sends produces a 5xx: bodies are parsed with a bound on nesting, numbers
and times in the models are bounded (``Moment`` for times), and path ids are ASCII digits
(``path_id``).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ValidationError

from bot.appkeys import CONFIG

log = logging.getLogger(__name__)

ApiHandler = Callable[..., Awaitable[Any]]

MAX_JSON_DEPTH = 64  # the deepest legitimate body (a segment) nests 16 levels
MAX_ID = 2**63 - 1  # a database BIGINT
ID_RE = re.compile(r"[0-9]{1,19}")  # ASCII only: "²" and "٣" are not ids
# Times outside these years are typing mistakes, and near year 1 or 9999 date arithmetic
# overflows.
EARLIEST, LATEST = datetime(2000, 1, 1), datetime(2100, 1, 1)


def _plausible(value: datetime) -> datetime:
    if not EARLIEST <= value.replace(tzinfo=None) < LATEST:
        raise ValueError(f"must be between the years {EARLIEST.year} and {LATEST.year - 1}")
    return value


Moment = Annotated[datetime, AfterValidator(_plausible)]


def path_id(raw: str) -> int | None:
    """A path segment as a database id: ASCII digits within BIGINT, else None."""
    if not ID_RE.fullmatch(raw) or int(raw) > MAX_ID:
        return None
    return int(raw)


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
    status: int  # the status of a success


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
        status: int | None = None,
    ) -> Callable[[ApiHandler], ApiHandler]:
        """Declare an endpoint; the handler gets ``(request)`` or ``(request, body)``.
        A success answers `status`: 201 for POST (it creates something), else 200."""
        method = method.upper()
        ok = status or (201 if method == "POST" else 200)

        def register(func: ApiHandler) -> ApiHandler:
            self.operations.append(
                Operation(method, path, summary, func, body, query or {}, self.tag, ok)
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
                    raw = json.loads(await request.read())
                except (ValueError, RecursionError):  # not JSON, not UTF-8, or absurdly deep
                    return _error(400, "request body must be JSON")
                if _depth_over(raw, MAX_JSON_DEPTH):
                    return _error(400, f"request body nests deeper than {MAX_JSON_DEPTH} levels")
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
        return json_response(result, status=op.status)

    return handle


def _depth_over(value: Any, limit: int) -> bool:
    """Whether `value` (parsed JSON) nests deeper than `limit`; without recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


PUBLIC_ROUTES = web.AppKey("api_public_routes", set)


@web.middleware
async def _json_errors(request: web.Request, handler):
    """The router's and aiohttp's own refusals (404, 405, 413) as JSON errors too."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _error(exc.status, exc.reason.lower())
        if exc.status == 405:
            response.headers["Allow"] = exc.headers.get("Allow", "")
        return response


@web.middleware
async def _auth(request: web.Request, handler):
    # By route identity: the path as written (``x%2Fopenapi.json``) or a segment named like
    # a public route never matters, only which route the router chose.
    if request.match_info.route in request.app[PUBLIC_ROUTES]:
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


RESPONSES = {
    "400": "Invalid request; the message names the field",
    "401": "Missing or wrong token",
    "403": "A read-only token on a write",
    "404": "No such resource",
    "409": "Conflicts with the current state (name taken, resource in use, a forbidden move)",
    "413": "Body over [api] max_body_bytes",
}
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}

API_HOOKS = web.AppKey("api_hooks", ApiHooks)


def openapi_document(route_sets: Sequence[ApiRoutes]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for every declared endpoint; the models' definitions live
    under ``components/schemas``, so every ``$ref`` resolves."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for routes in route_sets:
        for op in routes.operations:
            responses: dict[str, Any] = {
                str(op.status): {
                    "description": "Created" if op.status == 201 else "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            }
            responses |= {
                code: {"description": d, "content": error} for code, d in RESPONSES.items()
            }
            entry: dict[str, Any] = {
                "summary": op.summary,
                "tags": [op.tag],
                "operationId": op.handler.__name__,
                "responses": responses,
            }
            params = [
                {"name": name, "in": "path", "required": True, "schema": schema}
                for name, schema in _path_params(op.path)
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
                schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas |= schema.pop("$defs", {})
                schemas[op.body.__name__] = schema
                entry["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}
                        }
                    },
                }
            paths.setdefault("/api" + PATH_PATTERN.sub(r"{\1}", op.path), {})[op.method.lower()] = (
                entry
            )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Laoke operator API", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


PATH_PATTERN = re.compile(r"\{(\w+):([^}]+)\}")  # aiohttp's {name:regex}


def _path_params(path: str) -> list[tuple[str, dict[str, str]]]:
    """Each path parameter with its schema: a string, matching the route's regex if it has one."""
    params = []
    for part in path.split("/"):
        if part.startswith("{"):
            name, _, pattern = part[1:-1].partition(":")
            schema = {"type": "string"} | ({"pattern": f"^(?:{pattern})$"} if pattern else {})
            params.append((name, schema))
    return params


def setup(app: web.Application, route_sets: Sequence[ApiRoutes]) -> None:
    """Mount the API sub-application at /api with every feature's routes."""
    api = web.Application(middlewares=[_json_errors, _auth])
    for routes in route_sets:
        for op in routes.operations:
            api.router.add_route(op.method, op.path, _wrap(op))
    document = openapi_document(route_sets)

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(document)

    api[PUBLIC_ROUTES] = {api.router.add_get("/openapi.json", openapi)}
    app.add_subapp("/api", api)
