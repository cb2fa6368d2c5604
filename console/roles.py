"""Staff roles and what each may do: viewers read, operators run campaigns and import orders,
admins also edit templates, tiers and users.

Roles are ordered; a route names the least role it needs and every higher role passes. This
module holds only the ladder and the Chinese names; checking a request is ``auth.py``'s job.
"""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    viewer = 1
    operator = 2
    admin = 3

    @property
    def label(self) -> str:
        """The role's name as staff see it."""
        return LABELS[self]

    @classmethod
    def parse(cls, value: str | Role) -> Role:
        if isinstance(value, Role):
            return value
        try:
            return cls[value]
        except KeyError:
            raise ValueError(f"unknown role {value!r} (admin, operator or viewer)") from None


LABELS = {Role.viewer: "查看者", Role.operator: "运营", Role.admin: "管理员"}
