"""The demo's console logins: an admin, an operator and a viewer, with fresh passwords.

``laoke demo`` calls ``demo_logins`` on every start and prints what it returns with the
console URL; the passwords are new each run (they are not kept anywhere to print again).
Not for production: real accounts come from ``laoke user add``.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from console import audit
from console.accounts import create_user, generate_password, get_user_by_name, set_password
from console.roles import Role

DEMO_LOGINS = (("demo-admin", Role.admin), ("demo-operator", Role.operator),
               ("demo-viewer", Role.viewer))  # fmt: skip
DEMO_ACTOR = audit.Actor(None, "演示程序")


async def demo_logins(
    sessions: async_sessionmaker[AsyncSession], clock: Clock
) -> list[tuple[str, Role, str]]:
    """Create (or reset the password of) the demo accounts; returns name, role, password."""
    logins = []
    async with sessions() as session, session.begin():
        for name, role in DEMO_LOGINS:
            password = generate_password(name)
            user = await get_user_by_name(session, name)
            if user is None:
                user = await create_user(session, name, role, password, clock.now())
                action = "user.create"
            else:
                await set_password(session, user, password)
                user.role, user.disabled = role.name, False
                action = "user.password"
            audit.record(session, DEMO_ACTOR, action, ("user", user.id), None, None, at=clock.now())
            logins.append((name, role, password))
    return logins
