"""Persistence of the value chain: SQLAlchemy tables, Alembic migrations, scenario mapping.

``session`` opens the store (``CHAINSIGHT_DATABASE_URL``, default a SQLite file in the
user's data folder) and migrates it; ``repository`` holds every query.
"""

from chainsight.store.errors import StoreError, StoreUnavailable, TrialExists

__all__ = ["StoreError", "StoreUnavailable", "TrialExists"]
