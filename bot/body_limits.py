"""Request body limits per route: the webhook keeps WeChat's 64 KiB, the operator API takes the
bodies it documents (100,000 order rows).

aiohttp has one ``client_max_size`` for the whole application. The application is built with
the largest limit any route needs, and this middleware lowers it for each route that declares
a smaller one (``limit_body(app, route, max_bytes)``): a Content-Length past the route's limit
is answered 413 before anything is read, and a body sent without one is cut at the limit by
``request.read()``, also 413. Routes that stream their body (the CSV upload reads
``request.content`` into a temporary file) are not limited by this module.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute

BODY_LIMITS = web.AppKey("body_limits", dict[AbstractRoute, int])


def limit_body(app: web.Application, route: AbstractRoute, max_bytes: int) -> None:
    """Refuse bodies over `max_bytes` on `route` with 413."""
    app.setdefault(BODY_LIMITS, {})[route] = max_bytes


@web.middleware
async def route_body_limit(request: web.Request, handler):
    limit = request.app.get(BODY_LIMITS, {}).get(request.match_info.route)
    if limit is None:
        return await handler(request)
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    return await handler(request.clone(client_max_size=limit))
