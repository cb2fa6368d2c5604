"""The free-text card fields: mobile number, how to address the buyer, company or shop, and
their account name on the trading platform.

Mainland mobile numbers only (1[3-9] and nine digits); landlines and foreign numbers are
refused with a hint, because the supplier calls or texts this number. The name parsers
take what the buyer wrote minus the phrases around it ("我叫", "我们公司是"); they judge
length and plausibility, not truth.
"""

from __future__ import annotations

import re

from bot.dialog.forms.fields import Invalid
from bot.dialog.routing import normalize

MOBILE = re.compile(r"^1[3-9]\d{9}$")
PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
URL = re.compile(r"https?://|www\.", re.I)
ONLY_SYMBOLS = re.compile(r"^[\W_\d]+$")
# A contact detail inside a sentence: its label ("手机", "微信号") with the number or id after
# it, or a bare mobile number. Its words are not the buyer's interests or channels.
CONTACT_IN_TEXT = re.compile(
    r"(?:(?:手机号?码?|电话号?码?|联系电话|联系方式|微信号?|vx|wx|qq)\s*(?:是|:|：)?\s*"
    r"[A-Za-z0-9_+\-][A-Za-z0-9_+\- ]{4,}[A-Za-z0-9_])|" + PHONE_IN_TEXT.pattern,
    re.I,
)
# What buyers answer a consent notice or a confirmation with: never a name.
REPLY_WORDS = frozenset(
    {"同意", "我同意", "同意了", "好", "好的", "好滴", "可以", "行", "ok", "okay", "yes", "嗯",
     "嗯嗯", "没问题", "确认", "确定", "对", "是", "是的", "收到", "谢谢", "不同意", "不要", "no"}
)  # fmt: skip


def parse_phone(text: str) -> str | Invalid:
    """A mainland mobile number as 11 digits; tolerates spaces, dashes, brackets and +86."""
    t = normalize(text)
    t = re.sub(r"^(我的?)?(手机号?码?|电话号?码?|号码|手机|电话)?(是|:)?", "", t)
    digits = re.sub(r"[\s\-()（）.·]", "", t)
    digits = re.sub(r"^(?:\+86|0086|86)(?=1\d{10}$)", "", digits)
    if MOBILE.match(digits):
        return digits
    if re.fullmatch(r"(?:\+|00)(?!86)\d{6,}", digits):
        return Invalid("phone_foreign")
    if re.fullmatch(r"0\d{2,3}\d{7,8}", digits):
        return Invalid("phone_landline")
    if re.fullmatch(r"\+?\d+", digits):
        return Invalid("phone_length" if len(digits) != 11 else "phone_format")
    return Invalid("phone_format")


def find_phone(text: str) -> str | None:
    """A mobile number inside a longer sentence, if there is one."""
    m = PHONE_IN_TEXT.search(normalize(text))
    if not m:
        return None
    value = parse_phone(m.group(0))
    return value if isinstance(value, str) else None


def without_contacts(text: str) -> str:
    """`text` with its phone numbers and labelled contact ids blanked out."""
    return CONTACT_IN_TEXT.sub(" ", normalize(text))


def _plain_text(text: str, max_len: int, reason: str) -> str | Invalid:
    t = re.sub(r"\s+", " ", text.strip().strip("。.!！~～"))
    if not t or ONLY_SYMBOLS.match(t) or URL.search(t):
        return Invalid(reason)
    if len(t) > max_len:
        return Invalid(f"{reason}_long")
    return t


def parse_display_name(text: str) -> str | Invalid:
    """How to address the buyer (王姐, 李总, 小陈); at most 20 characters."""
    t = text.strip()
    t = re.sub(
        r"^(你?好[,，!！]?)?(我(的名字)?(叫|是|姓)|叫我|喊我|称呼我?|名字(叫|是)?)[:：]?", "", t
    )
    t = re.sub(r"(就行|就好|就可以|即可|吧|哈|啊|呀)+[。.!！]*$", "", t)
    if normalize(t).strip("。.!！~～") in REPLY_WORDS:
        return Invalid("name")  # "同意" said once more to the notice is not how to call them
    if re.search(r"[,，。;；?？]", t.strip("。")):
        return Invalid("name")  # a sentence, not a name
    return _plain_text(t, 20, "name")


def parse_company(text: str) -> str | Invalid:
    """Company or shop name; at most 64 characters."""
    t = re.sub(
        r"^(我们?的?|公司|店铺|店)(公司|店铺|店名|店)?(叫|是|名字?是|名称是)[:：]?",
        "",
        text.strip(),
    )
    if len(t.strip()) < 2:
        return Invalid("company")
    return _plain_text(t, 64, "company")


def parse_platform_account(text: str) -> str | Invalid:
    """Account name on the trading platform (1688/淘宝 会员名), used to match imported orders."""
    t = re.sub(
        r"^(我的?)?(1688|淘宝|阿里|平台)?(账号|帐号|会员名|旺旺|id|ID)(是|叫)?[:：]?",
        "",
        text.strip(),
    )
    t = t.strip()
    if " " in t and not re.search(r"[\u4e00-\u9fff]", t):
        return Invalid("account")  # "tb 1234 abc" is two answers, not one account
    return _plain_text(t, 64, "account")
