"""The account's custom menu: its shape, WeChat's limits, and its versions (drafts and what was
published, by whom).

A menu is up to 3 buttons, each either an action itself or a group of up to 5 sub-buttons.
An action is ``click`` (the buyer's client sends a CLICK event with its ``key``: one of the
bot's features in ``CLICK_KEYS`` or ``rule:<id>`` for a keyword rule's reply) or ``view``
(opens an http/https URL). Limits are WeChat's, in UTF-8 bytes: name ≤16 (top) / ≤60 (sub),
key ≤128, URL ≤1,024. ``validate_menu`` returns the problems in Chinese; ``to_wechat`` builds
the ``menu/create`` body and ``from_wechat`` reads ``menu/get`` /
``get_current_selfmenu_info`` answers back.

Publishing itself (the API call) is the console page's; this module stores versions and
reads how often each button was used (``clicks_since``, from the webhook's inbound rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.models import Base, InboundMessage

MAX_BUTTONS, MAX_SUB = 3, 5
MAX_NAME_TOP, MAX_NAME_SUB, MAX_KEY, MAX_URL = 16, 60, 128, 1024
HANDOFF_KEY = "HANDOFF"
RULE_KEY_PREFIX = "rule:"
# What a 发送消息 button can do (key → label); the handlers answer these keys.
CLICK_KEYS = {
    "CARD": "交换名片",
    "MEMBERSHIP": "我的会员",
    "LIVE": "直播预约",
    HANDOFF_KEY: "联系客服",
    "HELP": "帮助",
}
SUGGESTED: list[dict[str, Any]] = [
    {"name": "名片", "type": "click", "key": "CARD"},
    {"name": "会员", "type": "click", "key": "MEMBERSHIP"},
    {"name": "直播·联系", "sub_button": [
        {"name": "直播预约", "type": "click", "key": "LIVE"},
        {"name": "联系客服", "type": "click", "key": HANDOFF_KEY},
    ]},
]  # fmt: skip
DRAFT, PUBLISHED, PULLED = "draft", "published", "pulled"


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _check_action(item: dict[str, Any], where: str, rule_ids: set[str] | None) -> list[str]:
    kind = item.get("type")
    if kind == "click":
        key = str(item.get("key") or "")
        if not key:
            return [f"{where}：请选择要发送的消息"]
        if nbytes(key) > MAX_KEY:
            return [f"{where}：key 超过 {MAX_KEY} 字节"]
        if key.startswith(RULE_KEY_PREFIX):
            if rule_ids is not None and key.removeprefix(RULE_KEY_PREFIX) not in rule_ids:
                return [f"{where}：所选关键词规则已不存在"]
        elif key not in CLICK_KEYS:
            return [f"{where}：未知的消息类型「{key}」"]
        return []
    if kind == "view":
        url = str(item.get("url") or "")
        if nbytes(url) > MAX_URL:
            return [f"{where}：网址超过 {MAX_URL:,} 字节"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return [f"{where}：网址须以 http:// 或 https:// 开头"]
        return []
    return [f"{where}：请选择「发送消息」或「跳转网页」"]


def validate_menu(buttons: Any, rule_ids: set[str] | None = None) -> list[str]:
    """Problems with `buttons` against WeChat's limits (empty: publishable)."""
    if not isinstance(buttons, list) or not buttons:
        return ["菜单至少需要一个按钮"]
    if len(buttons) > MAX_BUTTONS:
        return [f"一级菜单最多 {MAX_BUTTONS} 个"]
    problems: list[str] = []
    for i, button in enumerate(buttons, 1):
        if not isinstance(button, dict):
            return ["菜单格式无效"]
        name = str(button.get("name") or "").strip()
        where = f"菜单{i}「{name or '未命名'}」"
        if not name:
            problems.append(f"菜单{i}：名称不能为空")
        elif nbytes(name) > MAX_NAME_TOP:
            problems.append(f"{where}：名称 {nbytes(name)} 字节，一级菜单最多 {MAX_NAME_TOP} 字节")
        subs = button.get("sub_button")
        if subs:
            if not isinstance(subs, list) or len(subs) > MAX_SUB:
                problems.append(f"{where}：子菜单最多 {MAX_SUB} 个")
                continue
            for j, sub in enumerate(subs, 1):
                if not isinstance(sub, dict):
                    return ["菜单格式无效"]
                sname = str(sub.get("name") or "").strip()
                swhere = f"{where} 子菜单{j}「{sname or '未命名'}」"
                if not sname:
                    problems.append(f"{where} 子菜单{j}：名称不能为空")
                elif nbytes(sname) > MAX_NAME_SUB:
                    problems.append(f"{swhere}：名称超过 {MAX_NAME_SUB} 字节")
                problems += _check_action(sub, swhere, rule_ids)
        else:
            problems += _check_action(button, where, rule_ids)
    return problems


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": str(item.get("name") or "").strip()}
    if item.get("sub_button"):
        out["sub_button"] = [_clean(s) for s in item["sub_button"]]
    elif item.get("type") == "view":
        out |= {"type": "view", "url": str(item.get("url") or "").strip()}
    else:
        out |= {"type": "click", "key": str(item.get("key") or "").strip()}
    return out


def to_wechat(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``menu/create`` body (only the fields WeChat reads)."""
    return {"button": [_clean(b) for b in buttons]}


def from_wechat(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Buttons from a ``menu/get`` (``menu.button``) or ``get_current_selfmenu_info``
    (``selfmenu_info.button``, sub-buttons under ``sub_button.list``) answer."""
    buttons = (
        (answer.get("menu") or {}).get("button")
        or (answer.get("selfmenu_info") or {}).get("button")
        or []
    )
    out = []
    for b in buttons:
        subs = b.get("sub_button")
        if isinstance(subs, dict):
            subs = subs.get("list")
        out.append(_clean({**b, "sub_button": subs or None}))
    return out


class MenuVersion(Base):
    """A saved menu: a draft, the one published (and by whom), or one pulled from WeChat."""

    __tablename__ = "menu_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class Menu:
    id: int
    status: str
    buttons: list[dict[str, Any]]
    created_by: str
    created_at: datetime


def _menu(row: MenuVersion) -> Menu:
    return Menu(row.id, row.status, row.buttons, row.created_by, row.created_at)


async def save_menu(
    session: AsyncSession, buttons: list[dict[str, Any]], status: str, *, by: str, at: datetime
) -> Menu:
    row = MenuVersion(status=status, buttons=to_wechat(buttons)["button"], created_by=by[:64],
                      created_at=at)  # fmt: skip
    session.add(row)
    await session.flush()
    return _menu(row)


async def latest_menu(session: AsyncSession, status: str | None = None) -> Menu | None:
    stmt = select(MenuVersion).order_by(MenuVersion.id.desc()).limit(1)
    if status is not None:
        stmt = stmt.where(MenuVersion.status == status)
    row = await session.scalar(stmt)
    return _menu(row) if row is not None else None


async def menu_history(session: AsyncSession, limit: int = 20) -> list[Menu]:
    rows = await session.scalars(select(MenuVersion).order_by(MenuVersion.id.desc()).limit(limit))
    return [_menu(r) for r in rows]


async def clicks_since(session: AsyncSession, since: datetime) -> dict[str, int]:
    """How often each button was used since `since`: CLICK events by their key and VIEW events
    by their URL (WeChat sends both; the inbound row keeps the key or URL as its content)."""
    rows = await session.execute(
        select(InboundMessage.content, func.count())
        .where(
            InboundMessage.received_at >= since,
            InboundMessage.msg_type == "event",
            InboundMessage.event.in_(("click", "view")),
        )
        .group_by(InboundMessage.content)
    )
    return {key: int(n) for key, n in rows if key}
