"""The shipped deployment runs production settings, so KENGASH_DEMO=1 alone cannot hand
out an admin token from the image."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_runs_production_settings() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    env_lines = re.findall(r"^ENV (?:[^\n]*\\\n)*[^\n]*", dockerfile, flags=re.M)
    assert any("KENGASH_ENVIRONMENT=production" in line for line in env_lines)


def test_compose_runs_production_settings_and_passes_the_metrics_token() -> None:
    compose = yaml.safe_load((ROOT / "compose.yml").read_text(encoding="utf-8"))
    for name in ("migrate", "app"):
        env = compose["services"][name]["environment"]
        assert env["KENGASH_ENVIRONMENT"] == "production", name
        assert "KENGASH_DEMO" not in env, name
        assert "KENGASH_METRICS_TOKEN" in env, name


def test_the_broadcast_has_one_replica_of_its_own_with_its_recordings_kept() -> None:
    """A sitting is encoded once: its WHIP, WHEP and HLS must all reach one replica."""
    compose = yaml.safe_load((ROOT / "compose.yml").read_text(encoding="utf-8"))
    broadcast = compose["services"]["broadcast"]
    assert broadcast["environment"]["KENGASH_ENVIRONMENT"] == "production"
    folder = broadcast["environment"]["KENGASH_HLS_DIR"]
    assert f"hls:{folder}" in broadcast["volumes"] and "hls" in compose["volumes"]
    assert "replicas" not in broadcast.get("deploy", {})
    caddy = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    media = re.search(r"@media path (.+)", caddy)
    assert media is not None and set(media.group(1).split()) == {"/whip/*", "/whep/*", "/hls/*"}
    assert "reverse_proxy @media broadcast:8000" in caddy
