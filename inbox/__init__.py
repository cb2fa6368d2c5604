"""The staff inbox: conversations the bot handed to a person, and the staff replies to them.

``inbox.conversations`` opens and updates a buyer's conversation (called by
``handlers/handoff.py``), ``inbox.replies`` sends staff replies through WeChat's delivery rule
(``bot/wechat/channels.py``), ``inbox.hours`` knows the business hours, ``inbox.figures`` the
dashboard numbers and ``inbox.live`` the change feed behind the console's live updates.
It renders no pages (``console/pages/inbox.py`` does) and answers no buyer by itself.
"""
