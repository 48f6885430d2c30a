"""The `kengash` command, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

ROLES = {"viewer", "deputy", "chair", "secretary", "operator", "admin"}


def kengash(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KENGASH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'k.db'}",
        "KENGASH_VAR_DIR": str(tmp_path / "var"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "session_server", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_demo_and_list(tmp_path: Path) -> None:
    assert kengash(tmp_path, "migrate").returncode == 0
    assert kengash(tmp_path, "demo").returncode == 0
    # The demo CA and the chair's certificate, with which the demo chair signs decisions.
    pki = tmp_path / "var" / "demo-pki"
    assert (pki / "trust" / "demo-ca.pem").exists()
    assert len(list(pki.glob("*.pem"))) == 1 and len(list(pki.glob("*.key"))) == 2
    again = kengash(tmp_path, "demo")
    assert again.returncode == 0 and "already" in again.stderr
    listed = kengash(tmp_path, "demo", "--list")
    lines = listed.stdout.splitlines()
    assert len(lines) == 36  # chair, 32 deputies, secretary, operator, admin
    for line in lines:
        login, role, name = line.split("\t")
        assert login and role in ROLES and len(name.split()) >= 2
    assert sum(1 for line in lines if line.split("\t")[1] == "deputy") == 32


ROSTER = """full_name,pinfl,seat,district,faction
Qodirova Munisa Anvar qizi,41203850260011,1,1-okrug,OʻzLiDeP
Ўринов Ғайрат Ҳамидович,31505790260022,2,2-okrug,Adolat
"""


def test_roster_import_all_or_nothing(tmp_path: Path) -> None:
    assert kengash(tmp_path, "migrate").returncode == 0
    good = tmp_path / "roster.csv"
    good.write_text(ROSTER, encoding="utf-8")
    done = kengash(
        tmp_path, "council", "import", str(good), "--council", "Chilonzor", "--seats", "30"
    )
    assert done.returncode == 0, done.stderr
    assert "2 added" in done.stderr
    # Same file again updates, adds nothing.
    again = kengash(tmp_path, "council", "import", str(good), "--council", "Chilonzor")
    assert "0 added, 2 updated" in again.stderr

    bad = tmp_path / "bad.csv"
    bad.write_text(
        ROSTER + "Yangi Deputat Ali oʻgʻli,123,3\nIkkinchi Nusxa,41203850260011,4\n",
        encoding="utf-8",
    )
    refused = kengash(tmp_path, "council", "import", str(bad), "--council", "Chilonzor")
    assert refused.returncode == 2
    assert "line 4" in refused.stderr and "PINFL" in refused.stderr
    listed = kengash(tmp_path, "council", "import", str(good), "--council", "Chilonzor")
    assert "0 added, 2 updated" in listed.stderr  # the bad file added nobody


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,pinfl\nX,1\n", "lacks: full_name, seat"),
        ("full_name,pinfl,seat\n", "empty"),
        ("full_name,pinfl,seat\nAli Vali,31505790260022,99\n", "beyond"),
    ],
)
def test_bad_rosters_are_refused(tmp_path: Path, text: str, message: str) -> None:
    assert kengash(tmp_path, "migrate").returncode == 0
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    result = kengash(tmp_path, "council", "import", str(path), "--council", "C", "--seats", "30")
    assert result.returncode == 2 and message in result.stderr


def test_demo_is_refused_in_production(tmp_path: Path) -> None:
    env_run = subprocess.run(
        [sys.executable, "-m", "session_server", "serve"],
        env={**os.environ, "KENGASH_DEMO": "1", "KENGASH_ENVIRONMENT": "production"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert env_run.returncode != 0 and "KENGASH_DEMO=1 is refused" in env_run.stderr


def test_demo_seeding_is_refused_in_production(tmp_path: Path) -> None:
    assert kengash(tmp_path, "migrate").returncode == 0
    production = {"KENGASH_ENVIRONMENT": "production", "KENGASH_SECRET_KEY": "p" * 48}
    refused = kengash(tmp_path, "demo", env=production)
    assert refused.returncode == 2
    message = " ".join(refused.stderr.split())
    assert "refused" in message and "production database" in message
    assert "nothing was written" in message
    # Nothing was written: the development CLI still finds an empty database to seed.
    seeded = kengash(tmp_path, "demo")
    assert seeded.returncode == 0 and "demo council seeded" in seeded.stderr


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    short = kengash(
        tmp_path,
        "migrate",
        env={"KENGASH_ENVIRONMENT": "production", "KENGASH_SECRET_KEY": "test-secret-key"},
    )
    assert short.returncode != 0
    assert "KENGASH_SECRET_KEY must be at least 32 bytes in production" in short.stderr


AGENDA = """title: Navbatdan tashqari sessiya
date: 2026-12-15
items:
  - title: Ўзбекистон Республикаси ҳудудий дастури тўғрисида
    rapporteur: Moliya boʻlimi
    draft:
      title: Ҳудудий дастур тўғрисида
      text: |
        Кенгаш қарор қилади:
        1. Дастур тасдиқлансин.
  - title: Turli masalalar
"""


def test_an_agenda_import_schedules_a_sitting_with_its_drafts(tmp_path: Path) -> None:
    assert kengash(tmp_path, "migrate").returncode == 0
    assert kengash(tmp_path, "demo").returncode == 0
    council = "Toshkent shahri Yunusobod tumani xalq deputatlari Kengashi"
    good = tmp_path / "agenda.yaml"
    good.write_text(AGENDA, encoding="utf-8")
    done = kengash(tmp_path, "session", "schedule", "--council", council, str(good))
    assert done.returncode == 0, done.stderr
    assert "2 items, 1 with a draft decision" in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(AGENDA.replace("date: 2026-12-15", "date: someday"), encoding="utf-8")
    refused = kengash(tmp_path, "session", "schedule", "--council", council, str(bad))
    assert refused.returncode == 2 and "date" in refused.stderr
    nobody = kengash(tmp_path, "session", "schedule", "--council", "No such", str(good))
    assert nobody.returncode == 2 and "no council" in nobody.stderr
