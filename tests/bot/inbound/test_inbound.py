"""The safe parser gives handlers exactly what wechatpy's own parser would.

``bot/inbound/parse.py`` parses each document once with defusedxml and builds wechatpy's message
objects itself (wechatpy's ``parse_message`` would parse again with xmltodict, unprotected).
For trusted documents both roads must lead to the same message.
"""

from __future__ import annotations

import pytest
from wechatpy import parse_message

from bot.inbound.parse import Unreadable, to_message

HEAD = "<ToUserName><![CDATA[gh_supplier]]></ToUserName><FromUserName><![CDATA[oBuyer0001]]></FromUserName><CreateTime>1716000000</CreateTime>"

DOCUMENTS = {
    "text": f"<xml>{HEAD}<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[会员 ]]></Content><MsgId>1234567890123456</MsgId></xml>",
    "image": f"<xml>{HEAD}<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/p.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>2</MsgId></xml>",
    "voice": f"<xml>{HEAD}<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m2]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[我要预约]]></Recognition><MsgId>3</MsgId></xml>",
    "location": f"<xml>{HEAD}<MsgType><![CDATA[location]]></MsgType><Location_X>23.13</Location_X><Location_Y>113.26</Location_Y><Scale>15</Scale><Label><![CDATA[广州]]></Label><MsgId>4</MsgId></xml>",
    "link": f"<xml>{HEAD}<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[t]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[http://x]]></Url><MsgId>5</MsgId></xml>",
    "subscribe": f"<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>",
    "subscribe_scan": f"<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_expo_2026]]></EventKey><Ticket><![CDATA[tk]]></Ticket></xml>",
    "scan": f"<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[42]]></EventKey><Ticket><![CDATA[tk]]></Ticket></xml>",
    "click": f"<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[MEMBERSHIP]]></EventKey></xml>",
    "template_finished": f"<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>200163836</MsgID><Status><![CDATA[success]]></Status></xml>",
    "pic_photo_or_album (nested list)": f"<xml>{HEAD}<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[pic_photo_or_album]]></Event><EventKey><![CDATA[6]]></EventKey><SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum><![CDATA[a]]></PicMd5Sum></item><item><PicMd5Sum><![CDATA[b]]></PicMd5Sum></item></PicList></SendPicsInfo></xml>",
    "unknown type": f"<xml>{HEAD}<MsgType><![CDATA[hologram]]></MsgType><MsgId>9</MsgId></xml>",
}


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_safe_parse_matches_wechatpys_parser(name):
    document = DOCUMENTS[name]
    ours, theirs = to_message(document.encode()), parse_message(document)
    assert type(ours) is type(theirs)
    assert ours._data == theirs._data
    assert ours.type == theirs.type and ours.source == theirs.source
    assert getattr(ours, "event", None) == getattr(theirs, "event", None)
    assert getattr(ours, "key", None) == getattr(theirs, "key", None)


def test_document_without_a_sender_is_unreadable():
    with pytest.raises(Unreadable):
        to_message(b"<xml><MsgType><![CDATA[text]]></MsgType><Content>x</Content></xml>")
