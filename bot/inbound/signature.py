"""Is this request from WeChat? The query-string signature and the replay window.

The signature is WeChat's (sha1 over the sorted token, timestamp and nonce, lower-case hex),
computed here and compared in constant time (``hmac.compare_digest``; wechatpy compares with
``!=``), and so is ``msg_signature`` of the encrypted modes (:func:`signature_matches`, used
by ``bot/inbound/parse.py`` before decrypting). This module also adds what wechatpy leaves out: a
timestamp outside the replay window is refused, so a captured request cannot be replayed
later. In plain and compatible mode the body is not signed at all (WeChat's protocol signs
only the query): the reuse of a signed query within the window is caught by the nonce record
(``bot/inbound/nonces.py``), which is why safe mode is still recommended for production.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

# Epoch seconds, ASCII digits only (int() would also take "٣" or a 400-digit number whose
# distance to now does not fit a float). 12 digits reach the year 33658.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signature_of(*parts: str) -> str:
    """WeChat's signature: sha1 of the sorted, concatenated parts, lower-case hex."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def signature_matches(expected_parts: tuple[str, ...], signature: str) -> bool:
    """Whether `signature` is WeChat's over the parts, compared in constant time."""
    return hmac.compare_digest(signature_of(*expected_parts).encode(), signature.encode())


def verify_query(
    params: Mapping[str, str], token: str, now: float, replay_window_s: int
) -> str | None:
    """Why the query is not WeChat's (a short reason for the log), or None when it is."""
    signature = params.get("signature", "")
    timestamp = params.get("timestamp", "")
    nonce = params.get("nonce", "")
    if not (signature and timestamp and nonce):
        return "signature, timestamp or nonce missing"
    if not signature_matches((token, timestamp, nonce), signature):
        return "bad signature"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "timestamp is not a number of seconds"
    if replay_window_s:
        skew = abs(now - int(timestamp))
        if skew > replay_window_s:
            return f"timestamp {skew:.0f} s away from now (window {replay_window_s} s)"
    return None
