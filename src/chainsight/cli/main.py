"""Entry point of the `chainsight` command: imports every command module."""

from __future__ import annotations

from chainsight.cli import forecast as _forecast  # noqa: F401  (registers commands)
from chainsight.cli import plan as _plan  # noqa: F401  (registers commands)
from chainsight.cli import record as _record  # noqa: F401  (registers commands)
from chainsight.cli import risks as _risks  # noqa: F401  (registers commands)
from chainsight.cli import scenario as _scenario  # noqa: F401  (registers commands)
from chainsight.cli import serve as _serve  # noqa: F401  (registers commands)
from chainsight.cli import store as _store  # noqa: F401  (registers commands)
from chainsight.cli import users as _users  # noqa: F401  (registers commands)
from chainsight.cli.app import app

__all__ = ["app"]


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":
    main()
