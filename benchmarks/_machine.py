"""The machine a benchmark's figures were measured on, printed with them."""

from __future__ import annotations

import os
import platform
from importlib import metadata


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo), else what platform knows."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info
                          if line.startswith("model name")), model)
    except OSError:
        pass
    return model


def machine(*packages: str) -> str:
    """Cores, CPU, Python and the versions of ``packages``."""
    versions = "".join(f", {name} {metadata.version(name)}" for name in packages)
    return (f"nproc {os.cpu_count()}, CPU {cpu_model()}, "
            f"Python {platform.python_version()}{versions}")
