"""Reading a callback body: safe XML, decryption, and wechatpy's message objects.

Why not hand the body straight to wechatpy: ``wechatpy.parser.parse_message`` (and
``WeChatCrypto.decrypt_message``) run xmltodict over expat, which accepts a DTD, so an
internal entity declaration can blow up in memory (billion laughs, quadratic blow-up) and an
external entity can make the parser reach for files or URLs. Any body — and, in the encrypted
modes, the decrypted inner document too — is therefore first read by ``defusedxml`` with DTDs
forbidden (which also forbids every entity declaration and external reference). Only a
document that passes is given to wechatpy, which then cannot meet a DTD or an entity.

This module raises; it does not decide what to answer (``bot/webhook.py`` does: 403 for an
unauthentic body, `success` for an unreadable one).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.parser import parse_message


class Unauthentic(Exception):
    """The body is not provably from WeChat for this account (answer 403)."""


class Unreadable(Exception):
    """The body is authentic but cannot be understood (answer `success`, never a 5xx)."""


def read_fields(document: bytes | str) -> dict[str, str]:
    """The top-level fields of a WeChat ``<xml>`` document, read with DTDs and entities forbidden."""
    try:
        root = fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise Unreadable(f"not a safe XML document: {type(exc).__name__}: {exc}") from None
    if root.tag != "xml":
        raise Unreadable(f"root element is <{root.tag}>, not <xml>")
    return {child.tag: child.text or "" for child in root}


def decrypt(
    crypto: WeChatCrypto, fields: dict[str, str], msg_signature: str, timestamp: str, nonce: str
) -> str:
    """Check `msg_signature` over the ``Encrypt`` field and return the decrypted inner XML."""
    encrypt = fields.get("Encrypt")
    if not encrypt:
        raise Unauthentic("encrypted request without an Encrypt field")
    try:
        # A dict, not the raw body: wechatpy would otherwise parse the body with xmltodict.
        return crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
    except InvalidSignatureException:
        raise Unauthentic("bad msg_signature") from None
    except InvalidAppIdException:
        raise Unauthentic("message encrypted for another appid") from None
    except Exception as exc:  # bad base64, bad padding, truncated ciphertext
        raise Unauthentic(f"cannot decrypt: {type(exc).__name__}") from None


def to_message(document: str | bytes) -> BaseMessage:
    """A wechatpy message (TextMessage, SubscribeScanEvent, UnknownMessage …) from safe XML."""
    fields = read_fields(document)  # the safety check; raises before wechatpy sees anything
    if not fields.get("MsgType") or not fields.get("FromUserName"):
        raise Unreadable("no MsgType or FromUserName")
    try:
        message: Any = parse_message(document)
    except Exception as exc:  # xmltodict or wechatpy choking on an odd but safe document
        raise Unreadable(f"wechatpy cannot parse it: {type(exc).__name__}: {exc}") from None
    if message is None or not isinstance(message.source, str):
        raise Unreadable("no sender")
    return message
