"""Exit 0 when the PostgreSQL server of the URL given answers within two seconds (scripts/test)."""

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def reachable(url: str) -> bool:
    engine = create_async_engine(url, connect_args={"timeout": 2})
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # any failure means "not usable here"; the caller says so
        return False
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(reachable(sys.argv[1])) else 1)
