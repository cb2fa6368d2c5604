"""Table tests of the card parsers: realistic answers and the values they must yield.

Each table holds what buyers actually type (units, Chinese numerals, pinyin-keyboard near
misses, chatter around the answer) and the answers that must be refused with a reason.
"""

from __future__ import annotations

import pytest

from bot.dialog.forms.fields import Invalid
from members.card.choices import parse_business_type, parse_channels, parse_interests
from members.card.contact import (
    parse_company,
    parse_display_name,
    parse_phone,
    parse_platform_account,
)
from members.card.extract import extract_card
from members.card.regions import Place, parse_region
from members.card.volume import format_volume, parse_volume

W = 10_000
VOLUMES = [
    ("5万", (5 * W, 5 * W)),
    ("50000", (50000, 50000)),
    ("5w", (5 * W, 5 * W)),
    ("5W", (5 * W, 5 * W)),
    ("五万", (5 * W, 5 * W)),
    ("3-5万", (3 * W, 5 * W)),
    ("3~5w", (3 * W, 5 * W)),
    ("3到5万", (3 * W, 5 * W)),
    ("3万-5万", (3 * W, 5 * W)),
    ("5-3万", (3 * W, 5 * W)),
    ("十几万", (11 * W, 19 * W)),
    ("二十几万", (21 * W, 29 * W)),
    ("几万", (2 * W, 9 * W)),
    ("几十万", (20 * W, 90 * W)),
    ("50k", (50000, 50000)),
    ("8k", (8000, 8000)),
    ("一万五", (15000, 15000)),
    ("1.5万", (15000, 15000)),
    ("两万", (2 * W, 2 * W)),
    ("三五万", (3 * W, 5 * W)),
    ("五六万", (5 * W, 6 * W)),
    ("十万", (10 * W, 10 * W)),
    ("十五万", (15 * W, 15 * W)),
    ("二十万", (20 * W, 20 * W)),
    ("一百万", (100 * W, 100 * W)),
    ("三千五", (3500, 3500)),
    ("5千", (5000, 5000)),
    ("8000块", (8000, 8000)),
    ("8000元", (8000, 8000)),
    ("20万元", (20 * W, 20 * W)),
    ("5万左右", (5 * W, 5 * W)),
    ("每月拿货5万左右", (5 * W, 5 * W)),
    ("大概3万", (3 * W, 3 * W)),
    ("月均 2 万", (2 * W, 2 * W)),
    ("¥50,000", (50000, 50000)),
    ("５万", (5 * W, 5 * W)),
    ("10万以上", (10 * W, None)),
    ("10万+", (10 * W, None)),
    ("1万以下", (0, 1 * W)),
    ("不到1万", (0, 1 * W)),
    ("5万多", (5 * W, 5 * W)),
    # refused
    ("不知道", Invalid("volume")),
    ("很多", Invalid("volume")),
    ("abc", Invalid("volume")),
    ("", Invalid("volume")),
    ("0", Invalid("volume_zero")),
    ("100亿", Invalid("volume_too_large")),
    ("看情况", Invalid("volume")),
]


@pytest.mark.parametrize(("text", "expected"), VOLUMES)
def test_volume_answers_yield_ranges_in_yuan(text, expected):
    assert parse_volume(text) == expected


def test_volume_reads_back_as_buyers_write_it():
    assert format_volume(50000, 50000) == "5万"
    assert format_volume(30000, 50000) == "3万–5万"
    assert format_volume(100000, None) == "10万以上"
    assert format_volume(0, 10000) == "1万以下"
    assert format_volume(8500, 8500) == "8,500"


BUSINESS_TYPES = [
    ("1", "taobao"), ("2", "social"), ("3", "cross_border"), ("4", "store"), ("5", "wholesale"),
    ("6", "other"), ("１", "taobao"),
    ("淘宝", "taobao"), ("天猫", "taobao"), ("淘宝店", "taobao"), ("天猫店", "taobao"),
    ("陶宝", "taobao"), ("淘保", "taobao"), ("涛宝店", "taobao"), ("TB", "taobao"),
    ("拼多多", "taobao"), ("我在淘宝开店", "taobao"), ("淘宝/天猫等网店", "taobao"),
    ("微商", "social"), ("卫商", "social"), ("社交电商", "social"), ("抖音", "social"),
    ("快手", "social"), ("做直播带货的", "social"), ("小红书", "social"), ("斗音", "social"),
    ("跨境", "cross_border"), ("跨境电商", "cross_border"), ("亚马逊", "cross_border"),
    ("shopee", "cross_border"), ("Shopee", "cross_border"), ("跨镜", "cross_border"),
    ("我们是做外贸的", "cross_border"), ("虾皮", "cross_border"),
    ("实体店", "store"), ("档口", "store"), ("当口", "store"), ("门店", "store"),
    ("开服装店的", "store"), ("实体", "store"),
    ("批发", "wholesale"), ("贸易商", "wholesale"), ("匹发", "wholesale"),
    ("经销商", "wholesale"), ("做批发的", "wholesale"),
    ("其他", "other"), ("其它", "other"),
    # refused
    ("7", Invalid("choice_number")), ("0", Invalid("choice_number")),
    ("好", Invalid("business_type")), ("哈哈", Invalid("business_type")),
    ("？", Invalid("business_type")), ("随便", Invalid("business_type")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BUSINESS_TYPES)
def test_business_type_by_number_word_synonym_or_near_miss(text, expected):
    assert parse_business_type(text) == expected


CATS = ["女装", "男装", "童装", "鞋靴", "箱包", "饰品", "美妆", "家居", "食品", "数码"]
INTERESTS = [
    ("女装", ["女装"]), ("1", ["女装"]), ("10", ["数码"]), ("1,3", ["女装", "童装"]),
    ("1、3", ["女装", "童装"]), ("1 3 5", ["女装", "童装", "箱包"]), ("135", ["女装", "童装", "箱包"]),
    ("１，２", ["女装", "男装"]), ("3,1", ["童装", "女装"]), ("1,1", ["女装"]),
    ("女装和童装", ["女装", "童装"]), ("女装、男装", ["女装", "男装"]), ("女装 鞋靴", ["女装", "鞋靴"]),
    ("女装鞋子", ["女装", "鞋靴"]), ("连衣裙", ["女装"]), ("裙子", ["女装"]), ("卖女装的", ["女装"]),
    ("主要做女装", ["女装"]), ("西装衬衫", ["男装"]), ("宝宝衣服", ["童装"]), ("母婴", ["童装"]),
    ("运动鞋", ["鞋靴"]), ("童鞋", ["鞋靴"]), ("包包", ["箱包"]), ("行李箱", ["箱包"]),
    ("耳环项链", ["饰品"]), ("首饰", ["饰品"]), ("化妆品", ["美妆"]), ("护肤品和彩妆", ["美妆"]),
    ("家纺", ["家居"]), ("日用百货", ["家居"]), ("零食", ["食品"]), ("茶叶", ["食品"]),
    ("手机配件", ["数码"]), ("耳机", ["数码"]), ("全部", CATS), ("都要", CATS),
    ("女装，美妆，零食", ["女装", "美妆", "食品"]), ("饰品类", ["饰品"]),
    # refused
    ("汽车", Invalid("interests")), ("0", Invalid("choice_number")), ("11,12", Invalid("choice_number")),
    ("", Invalid("interests")), ("不知道", Invalid("interests")), ("？？", Invalid("interests")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), INTERESTS)
def test_interests_by_number_category_or_product_word(text, expected):
    assert parse_interests(text, CATS) == expected


def test_interests_use_only_the_configured_categories():
    assert parse_interests("1", ["茶叶", "茶具"]) == ["茶叶"]
    assert parse_interests("女装", ["茶叶", "茶具"]) == Invalid("interests")


GD, ZJ = "广东省", "浙江省"
REGIONS = [
    ("广州", Place(GD, "广州市")), ("广东广州", Place(GD, "广州市")), ("广东省广州市", Place(GD, "广州市")),
    ("广州的", Place(GD, "广州市")), ("我在广州", Place(GD, "广州市")), ("广州十三行", Place(GD, "广州市")),
    ("深圳宝安", Place(GD, "深圳市")), ("东莞", Place(GD, "东莞市")), ("虎门", Place(GD, "东莞市")),
    ("佛山", Place(GD, "佛山市")), ("汕头", Place(GD, "汕头市")),
    ("杭州", Place(ZJ, "杭州市")), ("杭州市", Place(ZJ, "杭州市")), ("浙江义乌", Place(ZJ, "金华市")),
    ("义乌", Place(ZJ, "金华市")), ("义乌的", Place(ZJ, "金华市")), ("金华义乌", Place(ZJ, "金华市")),
    ("温州", Place(ZJ, "温州市")), ("湖州织里", Place(ZJ, "湖州市")),
    ("苏州", Place("江苏省", "苏州市")), ("常熟", Place("江苏省", "苏州市")),
    ("福建泉州", Place("福建省", "泉州市")), ("石狮", Place("福建省", "泉州市")), ("晋江", Place("福建省", "泉州市")),
    ("厦门", Place("福建省", "厦门市")), ("临沂", Place("山东省", "临沂市")), ("郑州", Place("河南省", "郑州市")),
    ("河南郑州", Place("河南省", "郑州市")), ("湖北仙桃", Place("湖北省", "仙桃市")),
    ("吉林长春", Place("吉林省", "长春市")), ("吉林市", Place("吉林省", "吉林市")),
    ("延边", Place("吉林省", "延边朝鲜族自治州")), ("内蒙古呼和浩特", Place("内蒙古自治区", "呼和浩特市")),
    ("内蒙包头", Place("内蒙古自治区", "包头市")), ("新疆乌鲁木齐", Place("新疆维吾尔自治区", "乌鲁木齐市")),
    ("成都", Place("四川省", "成都市")), ("海口", Place("海南省", "海口市")),
    ("上海", Place("上海市", "上海市")), ("北京朝阳", Place("北京市", "北京市")), ("重庆", Place("重庆市", "重庆市")),
    ("天津", Place("天津市", "天津市")), ("香港", Place("香港特别行政区", "香港特别行政区")),
    ("白沟", Place("河北省", "保定市")),
    # refused: a province alone asks for the city; unknown places are refused
    ("广东", Invalid("region_city")), ("浙江省", Invalid("region_city")), ("吉林", Invalid("region_city")),
    ("海南", Invalid("region_city")), ("火星", Invalid("region")), ("abc", Invalid("region")),
    ("", Invalid("region")), ("不告诉你", Invalid("region")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), REGIONS)
def test_region_resolves_to_province_and_prefecture_city(text, expected):
    assert parse_region(text) == expected


def test_region_list_covers_every_province_level_division():
    from members.card.regions import gazetteer

    provinces = {p.province for places in gazetteer().names.values() for p in places}
    assert len(provinces) == 34
    assert all(len(a) >= 2 for a in gazetteer().names)


PHONES = [
    ("13812345678", "13812345678"), ("138 1234 5678", "13812345678"), ("138-1234-5678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"), ("+8613812345678", "13812345678"), ("8613812345678", "13812345678"),
    ("008613812345678", "13812345678"), ("(+86)13812345678", "13812345678"), ("１３８１２３４５６７８", "13812345678"),
    ("手机号是13812345678", "13812345678"), ("我的手机13912345678", "13912345678"), ("电话：15012345678", "15012345678"),
    (" 15012345678 ", "15012345678"), ("13012345678", "13012345678"), ("14512345678", "14512345678"),
    ("16612345678", "16612345678"), ("17712345678", "17712345678"), ("18912345678", "18912345678"),
    ("19912345678", "19912345678"), ("135.1234.5678", "13512345678"), ("+86-138-1234-5678", "13812345678"),
    ("138 1234-5678", "13812345678"), ("86 13812345678", "13812345678"),
    # refused
    ("12812345678", Invalid("phone_format")), ("11012345678", Invalid("phone_format")),
    ("10012345678", Invalid("phone_format")), ("23812345678", Invalid("phone_format")),
    ("1381234567", Invalid("phone_length")), ("138123456789", Invalid("phone_length")),
    ("10086", Invalid("phone_length")), ("110", Invalid("phone_length")),
    ("020-12345678", Invalid("phone_landline")), ("02012345678", Invalid("phone_landline")),
    ("0755-8888888", Invalid("phone_landline")), ("abc", Invalid("phone_format")),
    ("", Invalid("phone_format")), ("不方便", Invalid("phone_format")), ("138一二三四五六七八", Invalid("phone_format")),
    ("+1 415 555 0100", Invalid("phone_foreign")), ("+85291234567", Invalid("phone_foreign")),
    ("13812345678 13912345678", Invalid("phone_length")),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), PHONES)
def test_phone_is_a_mainland_mobile_number(text, expected):
    assert parse_phone(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("王姐", "王姐"), ("李总", "李总"), ("叫我老王就行", "老王"), ("我叫张三", "张三"),
        ("我姓李", "李"), ("小陈吧", "小陈"), ("Amy", "Amy"),
        ("我在淘宝卖女装，每月拿货5万左右，广州的", Invalid("name")), ("123", Invalid("name")),
        ("http://spam.example", Invalid("name")), ("长" * 21, Invalid("name_long")),
        # what a buyer says to the consent notice or a confirmation is no name
        ("同意", Invalid("name")), ("好的", Invalid("name")), ("我同意", Invalid("name")),
        ("OK", Invalid("name")), ("确认", Invalid("name")), ("谢谢", Invalid("name")),
    ],
)  # fmt: skip
def test_display_name_takes_the_name_without_the_phrase_around_it(text, expected):
    assert parse_display_name(text) == expected


@pytest.mark.parametrize(
    ("parse", "text", "expected"),
    [
        (parse_company, "广州美美服饰", "广州美美服饰"),
        (parse_company, "我们公司叫美美服饰有限公司", "美美服饰有限公司"),
        (parse_company, "A", Invalid("company")),
        (parse_platform_account, "meimei2020", "meimei2020"),
        (parse_platform_account, "旺旺：abc_123", "abc_123"),
        (parse_platform_account, "tb 1234 abc", Invalid("account")),
        (parse_channels, "淘宝、抖音", ["淘宝", "抖音"]),
        (parse_channels, "1688和淘宝", ["1688", "淘宝"]),
        (parse_channels, "朋友圈", ["微信"]),
        (parse_channels, "抖店，小红书", ["抖音", "小红书"]),
        (parse_channels, "独立站", ["独立站"]),
        (parse_channels, "???", Invalid("channels")),
        # A product answers "what", not "where": not stored as a channel.
        (parse_channels, "女装", Invalid("channels_product")),
        (parse_channels, "淘宝，连衣裙", Invalid("channels_product")),
    ],
)
def test_free_text_fields(parse, text, expected):
    assert parse(text) == expected


def test_one_sentence_fills_type_interests_volume_and_region():
    found = extract_card("我在淘宝卖女装，每月拿货5万左右，广州的", CATS)
    assert found == {
        "business_type": "taobao",
        "channels": ["淘宝"],
        "interests": ["女装"],
        "volume": [50000, 50000],
        "region": ["广东省", "广州市"],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("叫我老王就行，义乌的，做饰品批发，一个月进货大概十几万",
         {"display_name": "老王", "business_type": "wholesale", "interests": ["饰品"],
          "volume": [110000, 190000], "region": ["浙江省", "金华市"]}),
        ("抖音卖童装，月均3-5万，电话13812345678",
         {"business_type": "social", "channels": ["抖音"], "interests": ["童装"],
          "volume": [30000, 50000], "phone": "13812345678"}),
        ("王姐", {}),
        ("我是东方甄选的粉丝", {}),  # an everyday word that is also a place is not a region
        # contact details are not interests or channels ("手机" is a 数码 word)
        ("做女装的，手机13812345678", {"interests": ["女装"], "phone": "13812345678"}),
        ("我的手机号是 138-1234-5678", {"phone": "13812345678"}),
        ("微信号meimei88，卖童装", {"interests": ["童装"]}),
        ("卖手机壳的，电话13812345678", {"interests": ["数码"], "phone": "13812345678"}),
    ],
)  # fmt: skip
def test_extractor_fills_only_what_it_recognises(text, expected):
    assert extract_card(text, CATS) == expected
