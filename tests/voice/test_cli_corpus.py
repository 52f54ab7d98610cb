import typer
from typer.testing import CliRunner

from detectors.voice_clone import sources
from detectors.voice_clone.sources import Missing
from verifier.cli_corpus import corpus_app


def _app():
    app = typer.Typer()
    app.add_typer(corpus_app, name="corpus")
    return app


def test_missing_packages_are_named_with_apt_line(monkeypatch, tmp_path):
    monkeypatch.setattr(
        sources, "check_sources",
        lambda: [Missing("TTS engine flite", "flite"), Missing("bona fide speech asterisk-fr", "asterisk-core-sounds-fr-wav")],
    )
    r = CliRunner().invoke(_app(), ["corpus", "voice", str(tmp_path / "out"), "--check"])
    assert r.exit_code == 2
    assert "apt-get install asterisk-core-sounds-fr-wav flite" in r.output
    assert not (tmp_path / "out").exists()  # nothing built, nothing installed


def test_check_passes_when_all_present(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "check_sources", lambda: [])
    r = CliRunner().invoke(_app(), ["corpus", "voice", str(tmp_path / "out"), "--check"])
    assert r.exit_code == 0 and "present" in r.output
