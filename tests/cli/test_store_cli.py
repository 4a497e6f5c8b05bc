"""`chainsight import / export / trials / summary` against a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsight.cli.main import app
from chainsight.domain import load_scenario
from chainsight.store.session import load_trial_scenario

runner = CliRunner()
EXAMPLES = Path(__file__).parents[2] / "examples"
DEMO = EXAMPLES / "demo-cart-phase1.yaml"


@pytest.fixture
def sqlite_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite store, for command behaviour that does not depend on the database
    (the store's own tests and the round trips below run on both)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CHAINSIGHT_DATABASE_URL", url)
    return url


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback from {args}: {result.exception!r}"
    )
    return result.exit_code, result.stdout, result.stderr


def test_reference_file_imports_exports_and_reimports_identically(
    store_env: str, reference_file: Path, tmp_path: Path
) -> None:
    original = load_scenario(reference_file)
    code, out, _ = run("import", str(reference_file))
    assert code == 0
    assert f"imported trial {original.trial.id}" in out
    assert load_trial_scenario(original.trial.id) == original

    exported = {}
    for suffix in (".yaml", ".json"):
        target = tmp_path / f"out{suffix}"
        code, _, err = run("export", original.trial.id, "-o", str(target))
        assert code == 0, err
        assert load_scenario(target) == original
        exported[suffix] = target
    assert json.loads(exported[".json"].read_text())["trial"]["id"] == original.trial.id

    code, _, err = run("import", str(exported[".json"]), "--replace")
    assert code == 0, err
    assert load_trial_scenario(original.trial.id) == original
    again = tmp_path / "again.yaml"
    run("export", original.trial.id, "-o", str(again))
    assert again.read_text() == exported[".yaml"].read_text()


def test_invalid_scenario_lists_every_problem_and_stores_nothing(
    store_env: str, tmp_path: Path
) -> None:
    text = DEMO.read_text()
    text = text.replace("weekdays: [Tue, Thu], per_day: 1}", "weekdays: [Tue, Funday], per_day: 1}")
    text = text.replace("site: S02, enrolled: 2026-12-30", "site: S09, enrolled: 2026-12-30")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    code, _, err = run("import", str(broken))
    assert code == 2
    assert "sites[1].apheresis.weekdays[1]: 'Funday' is not a weekday" in err
    assert "patients[4].site: 'S09' is not the id of any site" in err
    assert load_trial_scenario("CART-DEMO") is None
    code, out, _ = run("trials")
    assert code == 0
    assert "No trials stored yet" in out


def test_missing_file_is_a_clear_error(sqlite_store: str, tmp_path: Path) -> None:
    code, _, err = run("import", str(tmp_path / "nowhere.yaml"))
    assert code == 2
    assert "nowhere.yaml: no such file" in err


def test_importing_a_stored_trial_again_is_a_conflict_unless_replaced(
    store_env: str, tmp_path: Path
) -> None:
    assert run("import", str(DEMO))[0] == 0
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(DEMO.read_text().replace(
        "name: Phase 1 autologous anti-CD19 CAR-T", "name: Renamed CAR-T"
    ))
    code, _, err = run("import", str(renamed))
    assert code == 4
    assert "trial 'CART-DEMO' is already stored; use --replace" in err
    assert load_trial_scenario("CART-DEMO") == load_scenario(DEMO)

    code, out, _ = run("import", str(renamed), "--replace")
    assert code == 0
    assert "replaced trial CART-DEMO" in out
    assert load_trial_scenario("CART-DEMO") == load_scenario(renamed)


def test_keep_existing_keeps_what_is_stored(store_env: str, tmp_path: Path) -> None:
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(DEMO.read_text().replace("target_enrollment: 18", "target_enrollment: 30"))
    code, out, _ = run("import", str(DEMO), "--keep-existing")
    assert code == 0
    assert "imported trial CART-DEMO" in out
    code, out, _ = run("import", str(renamed), "--keep-existing")
    assert code == 0
    assert "already stored; kept as it is" in out
    stored = load_trial_scenario("CART-DEMO")
    assert stored is not None
    assert stored.trial.target_enrollment == 18


def test_replace_and_keep_existing_together_are_refused(sqlite_store: str) -> None:
    code, _, err = run("import", str(DEMO), "--replace", "--keep-existing")
    assert code == 2
    assert "--replace and --keep-existing" in err
    assert load_trial_scenario("CART-DEMO") is None


def test_export_of_an_unknown_trial_is_not_found(store_env: str, tmp_path: Path) -> None:
    run("import", str(DEMO))
    target = tmp_path / "x.yaml"
    code, _, err = run("export", "NO-SUCH", "-o", str(target))
    assert code == 3
    assert "TRIAL_ID: no stored trial 'NO-SUCH' (stored trials: CART-DEMO)" in err
    assert not target.exists()


def test_export_needs_a_known_extension(sqlite_store: str, tmp_path: Path) -> None:
    run("import", str(DEMO))
    code, _, err = run("export", "CART-DEMO", "-o", str(tmp_path / "x.txt"))
    assert code == 2
    assert "--output: cannot tell the format of 'x.txt'" in err
    assert ".yaml, .yml, .json" in err


def test_export_to_a_folder_that_does_not_exist(sqlite_store: str, tmp_path: Path) -> None:
    run("import", str(DEMO))
    code, _, err = run("export", "CART-DEMO", "-o", str(tmp_path / "no" / "x.yaml"))
    assert code == 2
    assert err.startswith("error: --output: cannot write")


def test_trials_lists_what_is_stored(sqlite_store: str) -> None:
    run("import", str(DEMO))
    run("import", str(EXAMPLES / "aav-batch.yaml"))
    code, out, _ = run("trials")
    assert code == 0
    for text in ("CART-DEMO", "AAV-301", "autologous", "batch", "2027-01-04"):
        assert text in out
    code, out, _ = run("trials", "--json")
    assert json.loads(out) == [
        {"id": "AAV-301", "name": "AAV gene therapy study 301", "modality": "batch",
         "today": "2027-03-29", "patients": 40, "sites": 8},
        {"id": "CART-DEMO",
         "name": "Phase 1 autologous anti-CD19 CAR-T, relapsed/refractory large B-cell lymphoma",
         "modality": "autologous", "today": "2027-01-04", "patients": 10, "sites": 3},
    ]


def test_summary_shows_the_chain_at_a_glance(
    sqlite_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    run("import", str(DEMO))
    code, out, _ = run("summary", "CART-DEMO")
    assert code == 0
    lines = out.splitlines()

    def line_with(*words: str) -> str:
        found = [line for line in lines if all(w in line for w in words)]
        assert found, f"no line with {words} in:\n{out}"
        return found[0]

    assert "enrolled 6 of 18" in out
    assert "active" in line_with("S01", "2026-09-20")
    assert "due in 42 days" in line_with("S03", "2027-02-15")
    # CDMO-B takes its ready day from its tech transfer; the open milestones are critical
    assert "tech transfer TT-B" in line_with("CDMO-B", "2027-05-13")
    assert "critical" in line_with("ppq", "0 d")
    assert "done" in line_with("kickoff")
    assert "commercial campaign (other client)" in line_with("CDMO-A", "2027-02-01")
    assert "pending: to 2027-08-15" in line_with("LV-001", "2027-02-15")
    assert "released in 28 days" in line_with("LV-002")
    rows = {cells[1]: cells[2:] for cells in _table_rows(out)}
    for stage, count in (("expected", 4), ("awaiting apheresis", 3), ("awaiting manufacturing", 0),
                         ("in manufacturing", 1), ("released", 1), ("infused", 1),
                         ("failed", 0), ("withdrawn", 0)):
        assert rows[stage][0] == str(count), stage


def _table_rows(out: str) -> list[list[str]]:
    """The cells of every table row Rich drew (rows start with a vertical bar)."""
    return [[cell.strip() for cell in line.split("│")] for line in out.splitlines()
            if line.startswith("│")]


def test_summary_of_an_unknown_trial(sqlite_store: str) -> None:
    code, _, err = run("summary", "NO-SUCH")
    assert code == 3
    assert "no stored trial named 'NO-SUCH'" in err


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://who:secret@127.0.0.1:9/nothing", "sqlite:////no/such/dir/x.db"],
    ids=["postgres-down", "sqlite-no-folder"],
)
def test_unreachable_database_is_one_clear_line(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAINSIGHT_DATABASE_URL", url)
    for args in (["trials"], ["import", str(DEMO)], ["export", "CART-DEMO", "-o", "x.yaml"],
                 ["summary", "CART-DEMO"]):
        code, _, err = run(*args)
        assert code == 5, args
        assert err.startswith("error: cannot open the database"), err
        assert err.count("\n") == 1
        assert "secret" not in err


def test_installed_command_as_make_run_calls_it(sqlite_store: str) -> None:
    """The console script in a process of its own, as `make run` calls it (once: it is
    slow to start; the in-process tests above cover the rest)."""
    script = Path(sys.executable).with_name("chainsight")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "chainsight.cli.main"]
    result = subprocess.run([*command, "import", str(DEMO), "--keep-existing"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "imported trial CART-DEMO" in result.stdout
    code, out, _ = run("import", str(DEMO), "--keep-existing")
    assert (code, "kept as it is" in out) == (0, True)
    assert load_trial_scenario("CART-DEMO") == load_scenario(DEMO)


def test_import_is_audited_with_who_and_why(sqlite_store: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINSIGHT_USER", "supply-lead")
    assert run("import", str(DEMO))[0] == 0
    code, out, err = run("audit", "show", "--trial", "CART-DEMO", "--json")
    assert code == 0, err
    entries = json.loads(out)
    assert entries
    assert {e["actor"] for e in entries} == {"supply-lead"}
    # the scenario's own rows carry the import's reason; the record's rows say their own
    scenario_rows = [e for e in entries if not e["table"].startswith("record_")]
    assert {e["table"] for e in scenario_rows} >= {"trials", "sites", "patients"}
    assert {e["reason"] for e in scenario_rows} == {"import of demo-cart-phase1.yaml"}


def test_import_opens_the_record_with_a_coi_per_patient(sqlite_store: str) -> None:
    assert run("import", str(DEMO))[0] == 0
    code, out, err = run("coi", "list", "--trial", "CART-DEMO")
    assert code == 0, err
    scenario = load_scenario(DEMO)
    for patient in scenario.patients:
        assert patient.id in out
