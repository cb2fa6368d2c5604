"""How a console page declares its routes: ``page = PageRoutes()`` and a decorator per route.

    page = PageRoutes()

    @page.get("/admin/buyers", role="viewer")
    async def buyers(request: web.Request) -> web.StreamResponse:
        ...

``role`` is the least role the route needs (``viewer`` < ``operator`` < ``admin``); ``None``
only for the sign-in page. ``console.setup`` wraps every declared route with the session,
role and CSRF checks (``auth.guard``), so a route cannot be mounted unchecked. This module
only collects declarations; it does not check requests or render anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from console.roles import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class PageRoute:
    method: str
    path: str
    handler: Handler
    role: Role | None


@dataclass
class PageRoutes:
    """One page module's routes, each with the role it needs."""

    routes: list[PageRoute] = field(default_factory=list)

    def route(
        self, method: str, path: str, *, role: Role | str | None
    ) -> Callable[[Handler], Handler]:
        if not path.startswith("/admin"):
            raise ValueError(f"console routes live under /admin, not {path!r}")

        def register(func: Handler) -> Handler:
            needed = None if role is None else Role.parse(role)
            self.routes.append(PageRoute(method.upper(), path, func, needed))
            return func

        return register

    def get(self, path: str, *, role: Role | str | None) -> Callable[[Handler], Handler]:
        """A page or partial (read-only; no CSRF token needed)."""
        return self.route("GET", path, role=role)

    def post(self, path: str, *, role: Role | str | None) -> Callable[[Handler], Handler]:
        """A change: needs the role and the session's CSRF token, and must call audit.record."""
        return self.route("POST", path, role=role)
