"""The left navigation, as CONSOLE.md §1 lays it out: groups, items, and each item's path.

An item is shown only to roles its page's GET route admits (the role comes from the route,
so nav and enforcement cannot disagree). Items whose page no module implements yet get a
"即将上线" placeholder route with ``placeholder_role``; implementing the page (a module in
``console/pages/`` declaring the same path) replaces the placeholder.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.roles import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    placeholder_role: Role


@dataclass(frozen=True)
class NavGroup:
    label: str  # "" for the ungrouped items at the top
    items: tuple[NavItem, ...]


NAV: tuple[NavGroup, ...] = (
    NavGroup("", (
        NavItem("总览", "/admin/", Role.viewer),
        NavItem("收件箱", "/admin/inbox", Role.operator),
    )),
    NavGroup("客户", (
        NavItem("买家", "/admin/buyers", Role.viewer),
        NavItem("分群", "/admin/segments", Role.operator),
    )),
    NavGroup("营销", (NavItem("活动", "/admin/campaigns", Role.viewer),)),
    NavGroup("订单与会员", (
        NavItem("订单", "/admin/orders", Role.viewer),
        NavItem("会员等级", "/admin/tiers", Role.viewer),
        NavItem("对账与返点", "/admin/statements", Role.viewer),
    )),
    NavGroup("内容与互动", (
        NavItem("话术模板", "/admin/templates", Role.operator),
        NavItem("自动回复", "/admin/autoreplies", Role.operator),
        NavItem("自定义菜单", "/admin/menu", Role.operator),
    )),
    NavGroup("设置", (
        NavItem("成员与角色", "/admin/settings/members", Role.admin),
        NavItem("操作日志", "/admin/settings/audit", Role.admin),
        NavItem("公众号连接", "/admin/settings/wechat", Role.admin),
        NavItem("API 令牌", "/admin/settings/tokens", Role.operator),
    )),
)  # fmt: skip


def visible_nav(
    role: Role, page_roles: dict[str, Role], current: str
) -> list[tuple[str, list[tuple[NavItem, bool]]]]:
    """The groups and items `role` may open, each item with whether it is the current page."""
    groups = []
    for group in NAV:
        items = [
            (item, _is_current(item.path, current))
            for item in group.items
            if role >= page_roles.get(item.path, item.placeholder_role)
        ]
        if items:
            groups.append((group.label, items))
    return groups


def _is_current(path: str, current: str) -> bool:
    if path == "/admin/":
        return current in ("/admin", "/admin/")
    return current == path or current.startswith(path + "/")
