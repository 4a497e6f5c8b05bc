"""The operational record: events as the source of truth, chain of identity and custody,
and the hash-chained audit trail of every change of stored data.

Importing the package installs the audit hooks (:mod:`chainsight.record.audit`).
"""

from chainsight.record import audit as audit
from chainsight.record import models as models

__all__ = ["audit", "models"]
