"""The shared development material is found beside the checkout, or where VERIFIER_SHARED_DIR says."""

from pathlib import Path

from verifier.shared_dir import ENV_VAR, shared_dir

REPO = Path(__file__).resolve().parent.parent


def test_beside_the_checkout_by_default(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert shared_dir() == REPO.parent / "shared"


def test_the_environment_variable_points_it_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert shared_dir() == tmp_path
