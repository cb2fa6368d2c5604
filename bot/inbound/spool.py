"""The spool: authentic messages that arrived while the database could not store them.

When the claim fails (the database is down, or restarting, or failing over), answering
`success` would stop WeChat's retries and lose the message, and answering nothing would show
the buyer "该公众号暂时无法提供服务" three times over. Instead the webhook writes the message's
plaintext XML here — one file per message, written to a temporary name, flushed to disk and
renamed, so a file is either whole or absent — and answers `success`. A background task
(``bot/inbound/webhook.py``) hands spooled messages to the normal exactly-once handling as soon as
the database is back; their replies go out through the customer-service API, like a reply
that missed its budget. A file is deleted only after its message is stored, and the dedup key
makes a message spooled twice (a retry during the outage) or replayed twice (a crash between
handling and deleting) count once.

Several ``serve`` processes may share one folder: each file is claimed by whoever handles it
first, and the database decides which handling counts.

This module only keeps files; it does not parse or handle messages.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path

SUFFIX = ".xml"


class SpoolError(Exception):
    """The spool folder cannot be created or written."""


class Spool:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def prepare(self) -> None:
        """Create the folder (at start, so a bad path stops the server, not a message)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(
                f"cannot create the spool folder {self.folder}: {exc.strerror}"
            ) from exc
        if not os.access(self.folder, os.W_OK):
            raise SpoolError(f"the spool folder {self.folder} is not writable")

    def put(self, xml: str) -> Path:
        """Keep one message; returns its file (names sort in arrival order)."""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"
        tmp = self.folder / f".{name}.tmp"
        final = self.folder / f"{name}{SUFFIX}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(xml)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise SpoolError(f"cannot write to the spool {self.folder}: {exc}") from exc
        return final

    def pending(self) -> list[Path]:
        """The spooled messages, oldest first."""
        try:
            return sorted(p for p in self.folder.iterdir() if p.name.endswith(SUFFIX))
        except FileNotFoundError:
            return []

    def read(self, path: Path) -> str | None:
        """A spooled message, or None when another process has taken it meanwhile."""
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def set_aside(self, path: Path) -> Path:
        """Keep a file that is not a message any more (renamed ``.bad``) for a human to read."""
        bad = path.with_suffix(".bad")
        with contextlib.suppress(FileNotFoundError):  # another process set it aside first
            path.replace(bad)
        return bad
