"""Imports every feature's tables, so that ``SQLModel.metadata`` is complete.

Migrations (autogenerate), the erasure that scrubs every table, the dev seeder and the tests need the whole
schema; importing this one module is how they get it. A new feature with tables adds its models module here.
"""

from app.accounts import models as accounts_models
from app.capture import models as capture_models
from app.contributors import models as contributors_models
from app.core import tables as core_tables
from app.duplicates import models as duplicates_models
from app.mandates import models as mandates_models
from app.notifications import models as notifications_models
from app.opportunities import models as opportunities_models
from app.reports import models as reports_models
from app.routing import models as routing_models
from app.signals import models as signals_models
from app.sync import models as sync_models
from app.web import models as web_models

FEATURE_TABLE_MODULES = (
    core_tables,
    accounts_models,
    contributors_models,
    signals_models,
    opportunities_models,
    sync_models,
    notifications_models,
    reports_models,
    mandates_models,
    routing_models,
    web_models,
    capture_models,
    duplicates_models,
)
