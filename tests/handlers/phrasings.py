"""Real buyer phrasings and what the bot must make of them (``tests/handlers/test_intents.py``).

Each row: (what the buyer typed, expected outcome). Outcomes name what answers: a command
(opt_out, opt_out_unsure = a confirmation question, opt_in, tier, live, rsvp, card,
show_card, edit_card, delete_card, help, shipping), ``faq:<topic>`` (the ``[[faq]]`` entries of
``config.example.toml``), ``person`` (a request for a person), ``courtesy:<kind>``, or
``not_understood`` (handed off). Refusals are rows too: 不要退订 is no opt-out, 退订单 is
about an order.

The rows follow the corpus (``understanding/corpus/``) where it decided: 别发了 and a typo of
退订 are opt-outs, 不要退订 keeps the pushes (opt-in), 换个名片 is the card exchange, and a
greeting (你好, 在吗) gets a greeting, not the menu. ``KNOWN_MISSES`` are rows the model gets
wrong today, with what it does instead; their tests are expected to fail (strictly: a fixed
one must leave the list), until the corpus teaches the model better.
"""

from __future__ import annotations

PHRASINGS: list[tuple[str, str]] = [
    # --- opt-out, plainly said
    ("怎么退订", "opt_out"), ("怎么退订？", "opt_out"), ("如何退订推送", "opt_out"),
    ("我要退订", "opt_out"), ("帮我退订一下", "opt_out"), ("退订，谢谢", "opt_out"),
    ("退订吧", "opt_out"), ("不想收到推送", "opt_out"), ("不想收到推送了", "opt_out"),
    ("不要推送了", "opt_out"), ("别再推送了", "opt_out"), ("以后不要再推送给我", "opt_out"),
    ("取消推送", "opt_out"), ("取消订阅", "opt_out"), ("关闭推送", "opt_out"),
    ("停止推送", "opt_out"), ("不要给我推送广告", "opt_out"), ("别发广告了", "opt_out"),
    ("不需要推送", "opt_out"), ("拒收消息", "opt_out"), ("退订退订", "opt_out"),
    ("ＴＤ退订", "opt_out"), ("怎么取消订阅啊", "opt_out"),
    ("别推了🙅", "opt_out"), ("免打扰 别发消息了", "opt_out"), ("不要再推直播了", "opt_out"),
    ("unsubscribe", "opt_out"), ("以后别给我推送活动了", "opt_out"),
    ("退订 辛苦", "opt_out"), ("谢谢 我是什么会员", "tier"),
    # --- may mean opt-out: asked, not done
    ("消息太多了", "opt_out_unsure"), ("推送太多了吧", "opt_out"),
    ("天天发烦不烦", "not_understood"), ("别烦我", "opt_out_unsure"), ("好烦啊", "opt_out_unsure"),
    ("别发了", "opt_out"), ("不要发了", "opt_out"), ("少发点", "opt_out_unsure"),
    ("这是骚扰", "not_understood"), ("退定", "opt_out"), ("腿订", "opt_out"),
    # --- refusals: no opt-out
    ("不要退订", "opt_in"), ("别退订我", "opt_in"),
    ("我不想退订", "not_understood"), ("刚才点错了不退订", "opt_in"),
    ("退订单", "faq:退换货"), ("我想退订单", "faq:退换货"), ("怎么退订单", "faq:退换货"),
    ("订单退订怎么弄", "not_understood"),
    ("没说要退订啊 我只是问问直播几点", "live"), ("我退订的那批货钱退了没", "not_understood"),
    ("我上次手快点了退订现在后悔了…重新打开", "opt_in"),
    # --- opt back in
    ("恢复推送", "opt_in"), ("我要重新订阅", "opt_in"), ("怎么恢复订阅", "opt_in"),
    ("继续推送吧", "opt_in"), ("想收到推送", "opt_in"), ("帮我订阅", "opt_in"),
    ("打开推送", "opt_in"),
    # --- tier card
    ("我是什么会员", "tier"), ("我的等级", "tier"), ("我的等级是啥", "tier"),
    ("我是几级会员", "tier"), ("我现在什么等级", "tier"), ("会员等级怎么看", "tier"),
    ("会员有什么权益", "tier"), ("我有什么权益", "tier"), ("怎么升级会员", "tier"),
    ("还差多少升级", "tier"), ("我是会员吗", "tier"), ("我是不是会员", "tier"),
    ("查一下会员", "tier"), ("查等级", "tier"), ("我的会员卡", "tier"), ("金卡有什么优惠", "tier"),
    ("怎么成为vip", "tier"), ("会圆", "tier"), ("等集", "tier"), ("我是哪一级的", "tier"),
    # --- livestream
    ("下次直播什么时候", "live"), ("下一场直播是几号", "live"), ("什么时候直播", "live"),
    ("今晚直播吗", "live"), ("今天直播吗？", "live"), ("几点直播", "live"), ("有直播吗", "live"),
    ("最近有没有直播", "live"), ("直播时间是几点", "live"), ("明天直播卖什么", "live"),
    ("还直播吗", "live"), ("直播间在哪", "live"), ("现在在直播吗", "live"),
    ("直播链接发我", "live"), ("几点开播", "live"), ("直拨", "live"), ("直博", "live"),
    # --- rsvp
    ("预约直播", "rsvp"), ("帮我预约一下", "rsvp"), ("开播提醒我", "rsvp"),
    ("开播叫我", "rsvp"), ("直播了叫我一声", "rsvp"), ("我要预约", "rsvp"),
    ("开播通知我", "rsvp"), ("怎么预约直播", "rsvp"), ("预越", "rsvp"),
    # --- card
    ("我想改一下名片", "edit_card"), ("我想换个名片", "card"), ("名片写错了", "edit_card"),
    ("改下资料", "edit_card"), ("我要修改资料", "edit_card"), ("手机号换了，改电话", "edit_card"),
    ("更新名片", "edit_card"), ("资料填错了怎么改", "edit_card"), ("改店名", "edit_card"),
    ("看看我的名片", "show_card"), ("看一下名片", "show_card"), ("查看名片", "show_card"),
    ("我填的资料", "show_card"),
    ("交换名片吧", "card"), ("怎么交换名片", "card"), ("留个名片", "card"), ("填资料", "card"),
    ("我来填名片", "card"), ("登记一下", "card"), ("名判", "card"), ("铭片", "card"),
    ("删除我的信息", "delete_card"), ("把我的资料删掉，删除资料", "delete_card"),
    ("注销我的资料", "delete_card"),
    # --- help
    ("你能做什么", "help"), ("有什么功能", "help"), ("这个怎么用", "help"),
    ("你好", "courtesy:greeting"), ("您好", "courtesy:greeting"), ("你好呀", "courtesy:greeting"),
    ("hello", "courtesy:greeting"), ("Hi", "courtesy:greeting"), ("在不在", "courtesy:greeting"),
    ("早上好", "courtesy:greeting"), ("在吗", "courtesy:greeting"), ("老板在吗？", "courtesy:greeting"),
    ("掌柜的在吗", "courtesy:greeting"), ("早", "courtesy:greeting"),
    ("菜单在哪", "help"), ("帮住", "help"),
    # --- FAQ (config.example.toml)
    ("多少钱起批", "faq:起批量"), ("几件起批", "faq:起批量"), ("最少拿多少件", "faq:起批量"),
    ("可以混批吗", "faq:起批量"), ("起订量多少", "faq:起批量"), ("拿货要求是什么", "faq:起批量"),
    ("什么时候发货", "faq:发货时间"), ("几天能到", "faq:发货时间"),
    ("发什么快递", "faq:发货时间"), ("包邮吗", "faq:发货时间"), ("运费怎么算", "faq:发货时间"),
    ("多久到广州", "faq:发货时间"),
    # --- where my order is (the latest order; a person when no order is known)
    ("发货了吗", "shipping"), ("物流查不到", "shipping"), ("我的货到哪了", "shipping"),
    ("单号发我一下", "shipping"),
    ("能开发票吗", "faq:开票"), ("可以开专票吗", "faq:开票"), ("开票加几个点", "faq:开票"),
    ("普票怎么开", "faq:开票"),
    ("可以退货吗", "faq:退换货"), ("怎么退换", "faq:退换货"), ("衣服有质量问题", "faq:退换货"),
    ("能退吗", "faq:退换货"), ("售后找谁", "faq:退换货"), ("退款什么时候到", "faq:退换货"),
    ("换货流程", "faq:退换货"),
    # --- a person
    ("人工客服", "person"), ("转人工", "person"), ("人工", "person"), ("找老板", "person"),
    ("客服在吗", "person"), ("有人吗", "person"),
    ("我要找真人", "person"), ("找你们负责人", "person"), ("叫业务员联系我", "person"),
    ("打电话给我", "person"), ("我要投诉，找老板", "person"),
    # --- courtesy
    ("谢谢", "courtesy:thanks"), ("谢谢老板", "courtesy:thanks"), ("好的谢谢", "courtesy:thanks"),
    ("多谢亲", "courtesy:thanks"), ("感谢！", "courtesy:thanks"), ("🙏", "courtesy:thanks"),
    ("[抱拳]", "courtesy:thanks"), ("thanks", "courtesy:thanks"), ("好的", "courtesy:ack"),
    ("收到", "courtesy:ack"), ("收到👍", "courtesy:ack"), ("👍", "courtesy:ack"),
    ("👍👍👍", "courtesy:ack"), ("[强]", "courtesy:ack"), ("ok", "courtesy:ack"),
    ("OK的", "courtesy:ack"), ("嗯嗯", "courtesy:ack"), ("知道了", "courtesy:ack"),
    ("明白了", "courtesy:ack"), ("好嘞", "courtesy:ack"), ("😊", "courtesy:ack"),
    ("哈哈哈", "courtesy:ack"), ("没问题", "courtesy:ack"), ("辛苦了", "courtesy:toil"),
    ("老板辛苦啦", "courtesy:toil"), ("麻烦你了", "courtesy:toil"), ("拜拜", "courtesy:bye"),
    ("再见老板", "courtesy:bye"), ("晚安", "courtesy:bye"),
    ("唔该晒", "courtesy:thanks"), ("新年快乐", "courtesy:festive"),
    ("不用改名片了 都对的", "courtesy:ack"),
    # --- not understood: handed off
    ("有没有新款", "not_understood"), ("这款还有货吗", "not_understood"),
    ("M码还有吗", "not_understood"), ("上次那个裙子多少钱", "not_understood"),
    ("你们在哪个市场", "not_understood"), ("[图片]款式", "not_understood"),
    ("123", "not_understood"), ("？？？", "not_understood"), ("汇款账号发我", "not_understood"),
    ("会员店在哪", "not_understood"), ("老板，有新款吗", "not_understood"),
    ("老板这个多少钱", "not_understood"), ("这个颜色好看", "not_understood"),
]  # fmt: skip

KNOWN_MISSES: dict[str, str] = {
    "好烦啊": "an acknowledgement (no row of annoyance without a push word in the corpus)",
    "客服在吗": "a greeting, like 在吗 (the corpus has no 客服在吗 under person)",
    "有人吗": "a greeting, like 在吗",
    "哈哈哈": "handed off (no laughter under ack in the corpus)",
    "麻烦你了": "handed off (麻烦 mostly precedes a request in the corpus)",
    "会员店在哪": "the tier card (会员 outweighs 店在哪)",
}
