"""What can go wrong when storing: each error carries a message fit for a user."""

from __future__ import annotations


class StoreError(Exception):
    """Base of the store's errors; ``str(error)`` is a complete one-line message."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, or its schema cannot be brought up to date."""


class TrialExists(StoreError):
    """A trial with this id is already stored and the caller did not ask to replace it."""

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id
        super().__init__(f"trial {trial_id!r} is already stored")
