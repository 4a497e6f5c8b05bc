"""Shared fixtures: the reference scenarios shipped in examples/."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsight.domain import Scenario, load_scenario

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
REFERENCE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="session")
def demo() -> Scenario:
    """The demo trial: small autologous CAR-T phase 1."""
    return load_scenario(EXAMPLES / "demo-cart-phase1.yaml")


@pytest.fixture(scope="session")
def multicdmo() -> Scenario:
    """The congested phase 2 CAR-T trial with two CDMOs."""
    return load_scenario(EXAMPLES / "cart-phase2-multicdmo.yaml")


@pytest.fixture(scope="session")
def aav() -> Scenario:
    """The batch-modality AAV trial."""
    return load_scenario(EXAMPLES / "aav-batch.yaml")


@pytest.fixture(params=REFERENCE_FILES, ids=lambda p: p.stem)
def reference_file(request: pytest.FixtureRequest) -> Path:
    """Each reference scenario file in turn."""
    path: Path = request.param
    return path
