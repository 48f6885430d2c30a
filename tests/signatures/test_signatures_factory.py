"""make_verifier: which verifier the settings choose, and the settings themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_server.settings import Settings
from session_server.signatures import make_verifier
from session_server.signatures.eimzo_server import EimzoServerVerifier
from session_server.signatures.local import LocalVerifier
from tests.pki import TestPKI


def test_e_imzo_server_when_its_url_is_set(pki: TestPKI) -> None:
    settings = Settings(eimzo_server_url="http://eimzo:8080", eimzo_trust_dir=pki.trust_dir)
    assert isinstance(make_verifier(settings), EimzoServerVerifier)


def test_local_over_the_trust_directory(pki: TestPKI) -> None:
    assert isinstance(make_verifier(Settings(eimzo_trust_dir=pki.trust_dir)), LocalVerifier)


def test_neither_means_e_imzo_sign_in_is_off() -> None:
    assert make_verifier(Settings()) is None


def test_a_bad_trust_directory_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no certificates"):
        make_verifier(Settings(eimzo_trust_dir=tmp_path))


def test_the_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().eimzo_check_revocation is True
    assert Settings().eimzo_timeout_seconds == 10
    monkeypatch.setenv("KENGASH_EIMZO_CHECK_REVOCATION", "0")
    monkeypatch.setenv("KENGASH_EIMZO_TIMEOUT_SECONDS", "2.5")
    settings = Settings()
    assert settings.eimzo_check_revocation is False
    assert settings.eimzo_timeout_seconds == 2.5
    monkeypatch.setenv("KENGASH_EIMZO_TIMEOUT_SECONDS", "0")
    with pytest.raises(ValueError):
        Settings()
