"""The comparison point of bench/webhook.py: a WeRoBot bot with its SQLite session storage.

Run as ``python bench/werobot_app.py PORT TOKEN SESSION_FILE``. The text handler does what a
stateful bot does at minimum — reads the buyer's session, counts the message, writes the
session back (WeRoBot commits every write) — and answers a short text.

It is served by Bottle's wsgiref adapter (what ``robot.run()`` uses) with two changes that are
only fair to WeRoBot: a thread per connection instead of one request at a time, and a listen
backlog of 128 instead of 5 (16 concurrent clients against a backlog of 5 lose SYNs and wait
seconds for retransmits, which would measure the kernel rather than WeRoBot). Run as it ships
(one request at a time, backlog 5), it did 25-40 msg/s with a p99 of 1.5-7 s here. Under
threads, SQLiteStorage's one shared connection now and then answers a request with an
empty body; the benchmark counts those as errors.
"""

from __future__ import annotations

import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer

import bottle
import werobot
from werobot.session.sqlitestorage import SQLiteStorage


def build(token: str, session_file: str) -> werobot.WeRoBot:
    robot = werobot.WeRoBot(
        token=token, enable_session=True, session_storage=SQLiteStorage(session_file)
    )

    @robot.text
    def count(message, session):
        session["messages"] = session.get("messages", 0) + 1
        return f"收到，这是您的第 {session['messages']} 条消息。"

    return robot


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


if __name__ == "__main__":
    port, token, session_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    server = bottle.WSGIRefServer(host="127.0.0.1", port=port, server_class=ThreadingWSGIServer)
    build(token, session_file).wsgi.run(server=server, quiet=True)
