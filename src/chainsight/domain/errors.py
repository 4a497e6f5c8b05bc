"""Problems found in a scenario, each with the path of the field it concerns."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a scenario: where (``sites[2].apheresis``) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioInvalid(ValueError):
    """A scenario that cannot be accepted; ``problems`` lists every reason at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the scenario:\n{lines}")


def format_path(loc: Iterable[int | str], prefix: str = "") -> str:
    """``('sites', 2, 'apheresis')`` as ``sites[2].apheresis`` (after ``prefix``)."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
}


def problems_from_validation_error(error: ValidationError, prefix: str = "") -> list[Problem]:
    """Pydantic's errors as problems with readable paths and messages."""
    found: list[Problem] = []
    for item in error.errors(include_url=False):
        loc = [p for p in item["loc"] if not _is_pydantic_branch(p)]
        message = _MESSAGES.get(item["type"], item["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        elif item["type"] not in _MESSAGES and "input" in item and not isinstance(
            item["input"], dict | list
        ):
            message = f"{message} (got {item['input']!r})"
        found.append(Problem(format_path(loc, prefix), message))
    return found


def _is_pydantic_branch(part: int | str) -> bool:
    # Union and function validators add branch names such as 'function-after[...]'
    return isinstance(part, str) and ("[" in part or part in ("date", "int", "str", "none"))
