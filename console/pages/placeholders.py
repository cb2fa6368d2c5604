""" "即将上线" pages for navigation items whose page no module implements yet.

Each gets a GET route with its nav item's ``placeholder_role``, so the navigation and the
role checks already work before the page exists; a module that declares the same path
replaces the placeholder (``console.pages.all_routes`` leaves claimed paths out).
"""

from __future__ import annotations

from aiohttp import web

from console.nav import NAV, NavItem
from console.registry import PageRoutes
from console.rendering import render


def placeholder_routes(claimed: set[str]) -> PageRoutes:
    """A placeholder GET route for every nav item whose path is not in `claimed`."""
    page = PageRoutes()
    for group in NAV:
        for item in group.items:
            if item.path not in claimed:
                page.get(item.path, role=item.placeholder_role)(_placeholder(item))
    return page


def _placeholder(item: NavItem):
    async def coming_soon(request: web.Request) -> web.StreamResponse:
        return render(request, "placeholder.html", {"title": item.label})

    return coming_soon
