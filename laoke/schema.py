"""Every table of the product, gathered: importing this module registers them all on Base.

Alembic's autogenerate and the tests' schema checks read ``metadata`` from here; a new
feature module with tables adds one import line below.
"""

import bot.count_cache  # noqa: F401
import bot.dialog.forms.store  # noqa: F401
import bot.inbound.events  # noqa: F401
import bot.inbound.nonces  # noqa: F401
import bot.models  # noqa: F401
import bot.wechat.quota  # noqa: F401
import console.models  # noqa: F401
import content.autoreply_store  # noqa: F401
import content.menu  # noqa: F401
import content.models  # noqa: F401
import followers.models  # noqa: F401
import inbox.models  # noqa: F401
import members.buyer_notes  # noqa: F401
import members.import_jobs  # noqa: F401
import members.orders  # noqa: F401
import members.tiers  # noqa: F401
import scheduler.models  # noqa: F401
import scheduler.saved_segments  # noqa: F401
import scheduler.segment_tags  # noqa: F401
import scheduler.staff_sends  # noqa: F401
import statements.models  # noqa: F401
from bot.models import Base

metadata = Base.metadata
