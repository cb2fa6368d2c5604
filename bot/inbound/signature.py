"""Is this request from WeChat? The query-string signature and the replay window.

The signature itself is wechatpy's (``check_signature``: sha1 over the sorted token, timestamp
and nonce); this module adds what wechatpy leaves out: a timestamp outside the replay window is
refused, so a captured request cannot be replayed later. In plain mode the body is not signed
at all (WeChat's protocol signs only the query), which is why safe mode is recommended for
production. ``msg_signature`` of the encrypted modes is checked with the decryption
(``bot/inbound/parse.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature


def verify_query(
    params: Mapping[str, str], token: str, now: float, replay_window_s: int
) -> str | None:
    """Why the query is not WeChat's (a short reason for the log), or None when it is."""
    signature = params.get("signature", "")
    timestamp = params.get("timestamp", "")
    nonce = params.get("nonce", "")
    if not (signature and timestamp and nonce):
        return "signature, timestamp or nonce missing"
    try:
        check_signature(token, signature, timestamp, nonce)
    except InvalidSignatureException:
        return "bad signature"
    if replay_window_s:
        try:
            skew = abs(now - int(timestamp))
        except ValueError:
            return "timestamp is not a number"
        if skew > replay_window_s:
            return f"timestamp {skew:.0f} s away from now (window {replay_window_s} s)"
    return None
