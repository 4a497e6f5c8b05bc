"""The record's commands: exit codes, clear errors naming the field, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from chainsight.cli.main import app
from chainsight.domain.identity import make_coi
from chainsight.store.session import close_stores, open_store
from tests.conftest import EXAMPLES
from tests.domain.journey_events import NOW, event

runner = CliRunner()
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def store(store_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo trial imported into the configured store; the record's clock on NOW."""
    monkeypatch.setenv("CHAINSIGHT_NOW", NOW.isoformat())
    monkeypatch.setenv("CHAINSIGHT_USER", "cli-tester")
    result = runner.invoke(app, ["import", str(EXAMPLES / "demo-cart-phase1.yaml")])
    assert result.exit_code == 0, result.output
    return store_env


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    return result.exit_code, result.output


def _coi(patient: str) -> str:
    code, out = run("coi", "list", "--trial", "CART-DEMO", "--json")
    assert code == 0, out
    return next(r["coi"] for r in json.loads(out) if r["patient"] == patient)


def test_record_list_and_resend(store: str, tmp_path: Path) -> None:
    first = json.dumps(event("apheresis_scheduled", "2027-01-04", day="2027-01-05"))
    code, out = run("record", "CART-DEMO", "--event", first, "-k", "k1", "--json")
    assert code == 0, out
    assert json.loads(out)["state"] == "apheresis_scheduled"
    code, out = run("record", "CART-DEMO", "--event", first, "-k", "k1")
    assert code == 0
    assert "already recorded" in out
    file = tmp_path / "done.yaml"
    done = event("apheresis_done", "2027-01-05", coi=_coi("P004"))
    del done["trial"]  # the command line's TRIAL_ID fills it in
    file.write_text(json.dumps(done), encoding="utf-8")
    code, out = run("record", "CART-DEMO", "--event", str(file), "--user", "dana")
    assert code == 0, out
    assert "P004 is now collected" in out
    code, out = run("events", "CART-DEMO", "--patient", "P004", "--json")
    rows = json.loads(out)
    assert [(r["kind"], r["recorded_by"]) for r in rows] == [
        ("apheresis_scheduled", "cli-tester"), ("apheresis_done", "dana")]
    code, out = run("events", "CART-DEMO")
    assert code == 0
    assert "apheresis_done" in out


@pytest.mark.parametrize(
    ("event_arg", "code", "words"),
    [
        ('{"kind": "infused", "occurred_on": "2027-01-05", "patient": "P004"}', 2, "coi"),
        ('{"kind": "nope"}', 2, "unknown event kind"),
        ('{"kind": "infused", "trial": "OTHER"}', 2, "trial: the event is for 'OTHER'"),
        ("no-such-file.json", 3, "neither JSON"),
        ("{not json", 2, "not valid YAML/JSON"),
        ('{"kind": "apheresis_scheduled", "occurred_on": "2027-01-04", "patient": "P004", '
         '"day": "2027-01-08"}', 4, "refused: day: site S01 does not do apheresis on Fri"),
    ],
)
def test_record_errors(store: str, event_arg: str, code: int, words: str) -> None:
    exit_code, out = run("record", "CART-DEMO", "--event", event_arg)
    assert exit_code == code, out
    assert words in out
    assert "Traceback" not in out


def test_a_coi_mismatch_is_refused(store: str) -> None:
    run("record", "CART-DEMO", "--event",
        json.dumps(event("apheresis_scheduled", "2027-01-04", day="2027-01-05")))
    code, out = run("record", "CART-DEMO", "--event",
                    json.dumps(event("apheresis_done", "2027-01-05", coi=_coi("P006"))))
    assert code == 4
    assert "is not the chain-of-identity id of patient P004's material" in out


def test_unknown_trial_and_bad_clock(store: str) -> None:
    code, out = run("record", "NOPE", "--event",
                    json.dumps(event("apheresis_scheduled", "2027-01-04", day="2027-01-05")
                               | {"trial": "NOPE"}))
    assert code == 3
    assert "not stored" in out
    code, out = run("record", "CART-DEMO", "--now", "yesterday", "--event", "{}")
    assert code == 2
    assert "--now" in out


def test_coi_new_and_check(store: str) -> None:
    code, out = run("coi", "new", "--trial", "CART-DEMO", "--facility-code", "W1234")
    assert code == 0, out
    issued = out.strip()
    assert issued == str(make_coi("W1234", 27, "000001"))
    code, out = run("coi", "new", "--trial", "CART-DEMO", "--facility-code", "W1234")
    assert out.strip() == str(make_coi("W1234", 27, "000002"))
    assert run("coi", "check", issued)[0] == 0
    code, out = run("coi", "check", issued[:-1] + ("0" if issued[-1] != "0" else "1"))
    assert code == 2
    assert "bad check character: expected" in out
    code, out = run("coi", "check", "G123417654321A")
    assert code == 0
    code, out = run("coi", "check", "CH12")
    assert (code, "length" in out) == (2, True)
    code, out = run("coi", "new", "--trial", "CART-DEMO", "--facility-code", "1234")
    assert code == 2
    assert "--facility-code" in out


def test_audit_verify_and_show(store: str) -> None:
    run("record", "CART-DEMO", "--user", "erin", "--event",
        json.dumps(event("apheresis_scheduled", "2027-01-04", day="2027-01-05")))
    code, out = run("audit", "verify")
    assert code == 0, out
    assert "intact" in out
    code, out = run("audit", "show", "--user", "erin", "--patient", "P004", "--json")
    entries = json.loads(out)
    assert entries
    assert {e["actor"] for e in entries} == {"erin"}
    code, out = run("audit", "show", "--trial", "CART-DEMO", "--limit", "3")
    assert code == 0
    assert "Audit trail" in out
    code, out = run("audit", "show", "--since", "not-a-date")
    assert code == 2
    assert "--since" in out
    # tamper with one entry behind the database's back
    engine = open_store(store).kw["bind"]
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER record_audit_no_update"))
        connection.execute(text("UPDATE record_audit SET reason = 'nothing' WHERE seq = 5"))
    close_stores()
    code, out = run("audit", "verify")
    assert code == 4
    assert "entry 5" in out


def test_backup_and_restore(store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                            ) -> None:
    run("record", "CART-DEMO", "--event",
        json.dumps(event("apheresis_scheduled", "2027-01-04", day="2027-01-05")))
    dump = tmp_path / "backup.json"
    code, out = run("backup", "-o", str(dump))
    assert code == 0, out
    code, out = run("restore", str(dump))
    assert code == 4
    assert "not empty" in out
    close_stores()
    monkeypatch.setenv("CHAINSIGHT_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    code, out = run("restore", str(dump))
    assert code == 0, out
    assert "audit trail verified" in out
    code, out = run("events", "CART-DEMO", "--json")
    assert len(json.loads(out)) == 1
    code, out = run("restore", str(dump), "--force")
    assert code == 0, out
    assert run("audit", "verify")[0] == 0
    code, out = run("restore", str(tmp_path / "missing.json"))
    assert code == 3
