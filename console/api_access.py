"""What the console plugs into ``/api``: per-user tokens, and an audit entry for every write.

``bot/api.py`` checks the ``[api] token`` itself and asks ``verify`` about any other bearer
token; after a write succeeds it calls ``record``, which audits it as the token's user (or
as the service token). The entry is written in its own transaction right after the
endpoint's, so a crash between the two can lose an entry but never invent one.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from bot.api import ApiCaller, ApiHooks, Operation
from bot.appkeys import CLOCK, SESSIONMAKER
from console import audit
from console.current import client_address
from console.tokens import verify_token


async def verify(request: web.Request, token: str) -> ApiCaller | None:
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        caller = await verify_token(session, token, request.config_dict[CLOCK].now())
    if caller is None:
        return None
    return ApiCaller(caller.user_id, caller.user_name, read_only=caller.read_only)


async def record(
    request: web.Request, caller: ApiCaller, op: Operation, body: BaseModel | None
) -> None:
    actor = audit.Actor(caller.user_id, caller.name, client_address(request))
    object_id = next(iter(request.match_info.values()), None)
    async with request.config_dict[SESSIONMAKER]() as session, session.begin():
        audit.record(
            session, actor, f"api.{op.method} {op.path}"[:64], (f"api:{op.tag}", object_id),
            None, body.model_dump(mode="json") if body is not None else None,
            at=request.config_dict[CLOCK].now(),
        )  # fmt: skip


HOOKS = ApiHooks(verify_token=verify, record_write=record)
