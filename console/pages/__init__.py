"""Every console page module, in one visible list.

Adding a page = one module here with ``page = PageRoutes()`` and its routes (each declaring
the role it needs), one template under ``console/templates/``, and one line in ``PAGES``.
A page for a navigation item (``console/nav.py``) replaces that item's "即将上线"
placeholder automatically.
"""

from __future__ import annotations

from console.pages import (
    audit_log,
    autoreplies,
    buyer,
    buyers,
    calendar,
    campaign_report,
    campaign_tools,
    campaigns,
    dashboard,
    follower_sync,
    inbox,
    login,
    members,
    menu,
    orders,
    segment_tags,
    segments,
    statements,
    template_messages,
    templates,
    tiers,
    tokens,
    wechat_link,
)
from console.pages.placeholders import placeholder_routes
from console.registry import PageRoute, PageRoutes

PAGES: list[PageRoutes] = [
    login.page,
    members.page,
    tokens.page,
    audit_log.page,
    wechat_link.page,
    dashboard.page,
    buyers.page,
    buyer.page,
    calendar.page,  # before the campaign pages: /admin/campaigns/{id} would catch it
    campaigns.page,  # before campaign_report: /admin/campaigns/new is not an id
    campaign_tools.page,
    campaign_report.page,
    orders.page,
    tiers.page,
    statements.page,
    segment_tags.page,  # before segments: /admin/segments/wechat-tag is not a segment
    segments.page,
    inbox.page,
    templates.page,
    template_messages.page,
    autoreplies.page,
    menu.page,
    follower_sync.page,
]


def all_routes(pages: list[PageRoutes] | None = None) -> list[PageRoute]:
    """The declared routes plus placeholders for navigation items nobody implements yet."""
    declared = [route for page in (PAGES if pages is None else pages) for route in page.routes]
    claimed = {route.path for route in declared if route.method == "GET"}
    return declared + placeholder_routes(claimed).routes
