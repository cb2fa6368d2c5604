"""The security headers every console response carries (pages, redirects, static files,
errors, the inbox's event stream), added as the response is prepared.

- ``Content-Security-Policy``: everything from our own origin (the assets are vendored), no
  inline or evaluated script — the console's JavaScript lives in ``console/static`` and the
  chart data sits in ``<script type="application/json">`` blocks, which are data, not script.
  Styles allow ``'unsafe-inline'``: ECharts draws its tooltips as HTML with ``style``
  attributes, htmx adds its indicator ``<style>``, and a few templates set a width inline.
  Inline style cannot run code; what it could leak needs markup injection first, which
  autoescape prevents. ``frame-ancestors 'none'`` (and ``X-Frame-Options: DENY`` for older
  browsers) stops the console being framed for clickjacking; ``form-action 'self'`` and
  ``base-uri 'none'`` keep injected markup from redirecting a form or relative links.
- ``X-Content-Type-Options: nosniff``: a file is what its type says.
- ``Referrer-Policy: same-origin``: console URLs (buyer ids, filters) never leave the site.

The rest of the application (the webhook, ``/api``, ``/healthz``) is not a browser surface
and is left alone.
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers above on every response under ``/admin``."""
    if request.path == "/admin" or request.path.startswith("/admin/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
