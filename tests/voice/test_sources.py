"""Grouped short-recording sources (KLettres), the speaker split table, half-precision bundles, the FSDD set."""

from pathlib import Path

import numpy as np
import pytest

from detectors.voice_clone.corpus import CorpusConfig, plan_corpus
from detectors.voice_clone.sources import (
    BONAFIDE_SOURCES,
    GROUP_RATE,
    KLETTRES_SOURCES,
    GroupedSource,
    load_utterance,
)
from tests.audio.helpers import voiced, write_wav


def _letters(root: Path, n: int = 12, rate: int = 44100) -> Path:
    """Letter-like recordings: 0.3 s room tone, 0.5-0.8 s voiced, 0.3 s room tone."""
    rng = np.random.default_rng(3)
    (root / "alpha").mkdir(parents=True)
    ramp = np.linspace(0, 1, int(0.01 * rate), dtype=np.float32)
    for i in range(n):
        v = voiced(float(rng.uniform(0.5, 0.8)), rate, f0=120 + 7 * i, seed=i)
        v[: len(ramp)] *= ramp
        v[-len(ramp) :] *= ramp[::-1]
        pad = int(0.3 * rate)
        x = np.concatenate([np.zeros(pad, np.float32), 0.3 * v / np.max(np.abs(v)), np.zeros(pad, np.float32)])
        x = x + 0.003 * rng.standard_normal(len(x)).astype(np.float32)  # room tone
        write_wav(root / "alpha" / f"l{i:02d}.wav", x, rate)
    return root


@pytest.fixture
def grouped(tmp_path) -> GroupedSource:
    root = _letters(tmp_path / "kl")
    return GroupedSource("kl-xx", "kl_xx", "xx", root, ("alpha/*.wav",), "none", "train", group_s=(2.0, 3.0), max_utterances=None)


def test_groups_use_each_recording_once_and_reach_the_length(grouped):
    utts = grouped.utterances(0)
    assert len(utts) >= 2
    parts = [p for u in utts for p in u.parts]
    assert len(parts) == len(set(parts))
    assert all(len(u.parts) >= 2 for u in utts)
    for u in utts:
        x, rate = load_utterance(u.parts)
        assert rate == GROUP_RATE
        assert 1.8 <= len(x) / rate <= 5.0  # group_s of speech + margins, never one ~1 s letter


def test_joined_utterance_has_room_tone_gaps_not_digital_silence(grouped):
    u = grouped.utterances(0)[0]
    x, rate = load_utterance(u.parts)
    assert np.array_equal(x, load_utterance(u.parts)[0])  # seeded margins: reproducible
    zero_run = np.diff(np.flatnonzero(np.concatenate([[1.0], x, [1.0]]) != 0)).max() - 1
    assert zero_run < rate * 0.002
    # joins are crossfaded inside room tone: no jump
    assert np.abs(np.diff(x)).max() < 0.2


def test_grouping_is_seeded(grouped):
    a, b = grouped.utterances(0), grouped.utterances(1)
    assert grouped.utterances(0) == a
    assert [u.parts for u in a] != [u.parts for u in b]


def test_plan_keeps_parts_for_bona_fide_and_its_resynthesis(grouped):
    cfg = CorpusConfig(resynth_fraction=1.0, resynth_families=("world",), unseen_families=())
    items = plan_corpus(cfg, [grouped], [])
    bona = [i for i in items if i.key == "bonafide"]
    spoof = [i for i in items if i.key == "spoof"]
    assert bona and len(spoof) == len(bona)
    assert all(i.source_parts and i.file_id.startswith("BF_kl-xx_u") for i in bona)
    by_src = {b.source_path: b.source_parts for b in bona}
    assert all(s.source_parts == by_src[s.source_path] for s in spoof)  # same recording, same channel key


def test_klettres_speakers_are_split_disjointly_and_tts_is_excluded():
    names = {s.name for s in KLETTRES_SOURCES}
    assert "klettres-nn" not in names  # CereVoice TTS per its sounds.xml: not bona fide
    splits = {s.speaker: s.split for s in BONAFIDE_SOURCES}
    for split in ("train", "dev", "eval"):
        assert any(s.split == split for s in KLETTRES_SOURCES)
    assert sum(s.split == "train" for s in KLETTRES_SOURCES) > len(KLETTRES_SOURCES) / 2
    # one split per speaker over every bona fide source
    seen: dict[str, str] = {}
    for s in BONAFIDE_SOURCES:
        assert seen.setdefault(s.speaker, s.split) == s.split
    assert len(splits) == len({s.speaker for s in BONAFIDE_SOURCES})


def test_tuxpaint_languages_select_only_their_own_recordings(tmp_path):
    from dataclasses import replace

    from detectors.voice_clone.sources import TUXPAINT_SOURCES

    d = tmp_path / "animals" / "birds"
    d.mkdir(parents=True)
    for name in ("owl.png", "owl.ogg", "owl_desc.ogg", "owl_desc_fr.ogg", "owl_desc_fr.txt", "owl_desc_ca.ogg"):
        (d / name).write_bytes(b"x")
    found = {s.lang: [p.name for p in replace(s, root=tmp_path).files()] for s in TUXPAINT_SOURCES}
    assert found["en"] == ["owl_desc.ogg"]  # English has no suffix; the stamp's sound effect is not speech
    assert found["fr"] == ["owl_desc_fr.ogg"] and found["ca"] == ["owl_desc_ca.ogg"]
    assert found["ru"] == []
    assert {s.speaker for s in TUXPAINT_SOURCES}.isdisjoint({s.speaker for s in KLETTRES_SOURCES})


def test_ktuberling_shares_klettres_splits_per_language():
    """Both are KDE programs whose recordings came from KDE volunteers: one
    person may have read both, so a language in both must not straddle splits."""
    from detectors.voice_clone.sources import KTUBERLING_SOURCES

    kl = {s.lang: s.split for s in KLETTRES_SOURCES}
    shared = [s for s in KTUBERLING_SOURCES if s.lang in kl]
    assert len(shared) >= 5
    for s in shared:
        assert s.split == kl[s.lang], s.name
    assert {s.split for s in KTUBERLING_SOURCES} == {"train", "dev", "eval"}


def test_ktuberling_reads_every_audio_format_it_ships(tmp_path):
    from dataclasses import replace

    from detectors.voice_clone.sources import KTUBERLING_SOURCES

    nn = next(s for s in KTUBERLING_SOURCES if s.lang == "nn")
    (tmp_path / "nn").mkdir()
    for name in ("ball.opus", "hat.ogg", "eye.wav", "nn.soundtheme"):
        (tmp_path / "nn" / name).write_bytes(b"x")
    assert [p.name for p in replace(nn, root=tmp_path / "nn").files()] == ["ball.opus", "eye.wav", "hat.ogg"]


def test_half_precision_bundle_scores_like_the_original(tmp_path):
    import torch

    from detectors.voice_clone.calibration import Calibration
    from detectors.voice_clone.models import MODEL_CONFIGS, create_model
    from detectors.voice_clone.scoring import ModelBundle, export_half, load_bundle

    torch.manual_seed(0)
    cfg = MODEL_CONFIGS["lfcc_lcnn"]
    n = cfg.n_features
    b = ModelBundle(cfg, create_model("lfcc_lcnn"), np.full(n, -3.0, np.float32), np.full(n, 7.0, np.float32), Calibration(0.8, -0.2))
    b.save(tmp_path / "full.pt")
    sha = export_half(tmp_path / "full.pt", tmp_path / "half.pt", validation="not evidence: test")
    assert (tmp_path / "half.pt").stat().st_size < (tmp_path / "full.pt").stat().st_size
    full, half = load_bundle(tmp_path / "full.pt"), load_bundle(tmp_path / "half.pt")
    assert half.sha256 == sha and half.record["validation"] == "not evidence: test"
    assert half.mean.dtype == np.float32 and half.mean[0] == -3.0
    x = voiced(3.0, 16000)
    assert abs(full.score(x, 16000) - half.score(x, 16000)) < 0.05


def test_fsdd_strings_join_five_recordings_per_file(tmp_path):
    from audio.decode import decode_audio
    from detectors.voice_clone.unseen_bonafide import build_fsdd_strings

    src = tmp_path / "fsdd"
    src.mkdir()
    for spk in ("anna", "bob"):
        for take in range(2):
            for digit in range(5):
                write_wav(src / f"{digit}_{spk}_{take}.wav", voiced(0.4, 8000, seed=digit), 8000)
    out = build_fsdd_strings(src, tmp_path / "out")
    assert [p.name for p in out] == ["fsdd_anna_00.wav", "fsdd_anna_01.wav", "fsdd_bob_00.wav", "fsdd_bob_01.wav"]
    d = decode_audio(out[0], target_rate=None)
    assert d.sample_rate == 8000 and abs(d.duration_s - 2.0) < 0.01


def test_broadcast_set_takes_the_real_clips_one_voice_each(tmp_path):
    """Set C: only the files the inventory labels real (radio addresses, WDA videos), not the
    SadTalker driving audio of unknown origin; each clip counted as its own voice."""
    from detectors.voice_clone.unseen_bonafide import collect_broadcast, speaker_of

    audio = tmp_path / "audio/sadtalker/examples/driven_audio"
    video = tmp_path / "video/sadtalker/examples/ref_video"
    audio.mkdir(parents=True)
    video.mkdir(parents=True)
    for name in ("RD_Radio31_000.wav", "RD_Radio34_002.wav", "japanese.wav"):
        write_wav(audio / name, voiced(1.0, 16000), 16000)
    (video / "WDA_KatieHill_000.mp4").write_bytes(b"not decoded here")
    out = collect_broadcast(tmp_path, tmp_path / "out")
    assert [p.name for p in out] == ["broadcast_RDRadio31000_0.wav", "broadcast_RDRadio34002_0.wav",
                                     "broadcast_WDAKatieHill000_0.mp4"]
    assert len({speaker_of(p.name) for p in out}) == 3


def test_heldout_speaker_set_takes_only_eval_speakers_raw_and_long_enough(tmp_path, monkeypatch):
    """Set B of the false-alarm measurement: people the model never trained or
    calibrated on, recordings as published (native rate, no corpus chain)."""
    from audio.decode import decode_audio
    from detectors.voice_clone import sources
    from detectors.voice_clone.sources import BonafideSource
    from detectors.voice_clone.unseen_bonafide import build_heldout_speaker_files

    for who, split in (("eva", "eval"), ("tom", "train")):
        d = tmp_path / who
        d.mkdir()
        for k, secs in enumerate((1.0, 2.5, 3.0, 4.0)):
            write_wav(d / f"rec{k}.wav", voiced(secs, 22050, seed=k), 22050)
    fake = tuple(BonafideSource(f"src-{w}", w, "en", tmp_path / w, ("*.wav",), "pkg", s) for w, s in (("eva", "eval"), ("tom", "train")))
    monkeypatch.setattr(sources, "BONAFIDE_SOURCES", fake)
    out = build_heldout_speaker_files(tmp_path / "out", per_speaker=2)
    assert len(out) == 2 and all(p.name.startswith("heldout_src-eva_") for p in out)
    for p in out:
        d = decode_audio(p, target_rate=None)
        assert d.sample_rate == 22050 and d.duration_s >= 2.0
