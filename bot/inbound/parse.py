"""Reading a callback body: safe XML, decryption, and wechatpy's message objects.

Why not hand the body straight to wechatpy: ``wechatpy.parser.parse_message`` (and
``WeChatCrypto.decrypt_message``) run xmltodict over expat, which accepts a DTD, so an
internal entity declaration can blow up in memory (billion laughs, quadratic blow-up) and an
external entity can make the parser reach for files or URLs. Any body — and, in the encrypted
modes, the decrypted inner document too — is therefore first read by ``defusedxml`` with DTDs
forbidden (which also forbids every entity declaration and external reference), and a
document nested deeper than ``MAX_DEPTH`` is refused (WeChat's go four levels deep; a deeper
one would only exhaust the recursion that reads it). The parsed tree is then turned into the dict xmltodict would have made and given to wechatpy's message
classes, so wechatpy never parses anything and each document is parsed once.

This module raises; it does not decide what to answer (``bot/inbound/webhook.py`` does: 403 for an
unauthentic body, `success` for an unreadable one).
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage

from bot.inbound.signature import signature_matches

MAX_DEPTH = 16  # element levels below <xml>; WeChat's deepest (SendPicsInfo/PicList/item) is 4


class Unauthentic(Exception):
    """The body is not provably from WeChat for this account (answer 403)."""


class Unreadable(Exception):
    """The body is authentic but cannot be understood (answer `success`, never a 5xx)."""


def read_document(document: bytes | str) -> Element:
    """The ``<xml>`` root of a WeChat document, read with DTDs and entities forbidden."""
    try:
        root = fromstring(document, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise Unreadable(f"not a safe XML document: {type(exc).__name__}: {exc}") from None
    if root.tag != "xml":
        raise Unreadable(f"root element is <{root.tag}>, not <xml>")
    stack = [(root, 0)]  # iteratively: the depth check must not recurse itself
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Unreadable(f"nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in element)
    return root


def read_fields(document: bytes | str | Element) -> dict[str, str]:
    """The top-level fields of a WeChat ``<xml>`` document (or of its parsed root)."""
    root = document if isinstance(document, Element) else read_document(document)
    return {child.tag: child.text or "" for child in root}


def decrypt(
    crypto: WeChatCrypto, fields: dict[str, str], msg_signature: str, timestamp: str, nonce: str
) -> str:
    """Check `msg_signature` over the ``Encrypt`` field and return the decrypted inner XML."""
    encrypt = fields.get("Encrypt")
    if not encrypt:
        raise Unauthentic("encrypted request without an Encrypt field")
    # Checked here, in constant time (wechatpy's decrypt_message compares with `!=`).
    if not signature_matches((crypto.token, timestamp, nonce, encrypt), msg_signature):
        raise Unauthentic("bad msg_signature")
    try:
        return PrpCrypto(crypto.key).decrypt(encrypt, crypto.app_id)
    except InvalidAppIdException:
        raise Unauthentic("message encrypted for another appid") from None
    except Exception as exc:  # bad base64, bad padding, truncated ciphertext
        raise Unauthentic(f"cannot decrypt: {type(exc).__name__}") from None


def to_message(document: str | bytes | Element) -> BaseMessage:
    """A wechatpy message (TextMessage, SubscribeScanEvent, UnknownMessage …) from safe XML."""
    root = document if isinstance(document, Element) else read_document(document)
    fields: Any = _xmltodict(root)
    if not isinstance(fields, dict) or not isinstance(fields.get("MsgType"), str):
        raise Unreadable("no MsgType")
    if not fields.get("FromUserName"):
        raise Unreadable("no MsgType or FromUserName")
    try:
        message: BaseMessage = _message_class(fields)(fields)
    except Exception as exc:  # wechatpy choking on an odd but safe document
        raise Unreadable(f"wechatpy cannot parse it: {type(exc).__name__}: {exc}") from None
    if not isinstance(message.source, str):
        raise Unreadable("no sender")
    return message


def _xmltodict(element: Element) -> Any:
    """What ``xmltodict.parse`` makes of an element (whitespace stripped, repeats as lists)."""
    text = element.text.strip() if element.text else ""
    if not len(element) and not element.attrib:
        return text or None
    value: dict[str, Any] = {f"@{k}": v for k, v in element.attrib.items()}
    for child in element:
        item = _xmltodict(child)
        if child.tag in value:
            known = value[child.tag]
            if isinstance(known, list):
                known.append(item)
            else:
                value[child.tag] = [known, item]
        else:
            value[child.tag] = item
    if text:
        value["#text"] = text
    return value


def _message_class(message: dict[str, Any]) -> type[BaseMessage]:
    """The class ``wechatpy.parser.parse_message`` picks (it may rewrite Event and EventKey)."""
    message_type = str(message["MsgType"]).lower()
    if message_type != "event" and not message_type.startswith("device_"):
        return MESSAGE_TYPES.get(message_type, UnknownMessage)
    event_type = str(message["Event"]).lower() if "Event" in message else None
    if event_type is None and message_type.startswith("device_"):
        event_type = message_type
    elif message_type.startswith("device_"):
        event_type = f"device_{event_type}"
    if event_type == "subscribe" and message.get("EventKey"):
        event_key = str(message["EventKey"])
        if event_key.startswith(("scanbarcode|", "scanimage|")):
            event_type = message["Event"] = "subscribe_scan_product"
        elif event_key.startswith("qrscene_"):
            event_type = message["Event"] = "subscribe_scan"
            message["EventKey"] = event_key[len("qrscene_") :]
    return EVENT_TYPES.get(event_type, UnknownMessage)
