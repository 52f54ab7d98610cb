"""The GAN vocoder behind the ``neural`` spoof family: training entry point, export, resynthesis."""

import hashlib

import numpy as np
import pytest
import torch

from audio.encode import write_audio
from detectors.voice_clone import gan_vocoder as gv
from detectors.voice_clone.vocoders import RESYNTH_FAMILIES, neural_resynth
from tests.audio.helpers import voiced


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    """Two adversarial training steps on two short synthetic files, exported as float16."""
    root = tmp_path_factory.mktemp("gan")
    write_audio(root / "audio" / "a.wav", voiced(1.0, 8000, f0=110), 8000)
    write_audio(root / "audio" / "b.wav", voiced(1.0, 16000, f0=180, seed=1), 16000)
    rc = gv.main(["train", "--out", str(root / "run"), "--audio-dir", str(root / "audio"), "--max-steps", "2",
                  "--warmup-frac", "0", "--batch-size", "2", "--segment", "4000"])
    assert rc == 0
    ckpt = root / "run" / "ckpt.pt"
    ck = torch.load(ckpt, weights_only=True)
    assert ck["step"] == 2 and ck["format"] == gv.FORMAT and "discriminators" in ck
    out = root / "gan_vocoder.pt"
    assert gv.main(["export", str(ckpt), str(out)]) == 0
    return out


def test_training_checkpoint_and_export_load(tiny_weights):
    b = torch.load(tiny_weights, weights_only=True)
    assert all(v.dtype == torch.float16 for v in b["generator"].values())
    g, mel = gv.load_generator(tiny_weights)
    m = mel(torch.zeros(1, 4000))
    assert m.shape == (1, 80, 4000 // 200 + 1)
    assert g(m).shape == (1, (4000 // 200 + 1) * 200)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_neural_resynthesis_keeps_length_rate_and_level(tiny_weights, rate):
    x = voiced(1.3, rate, f0=120)
    y = neural_resynth(x, rate, np.random.default_rng(0), weights=tiny_weights)
    assert y.shape == x.shape and y.dtype == np.float32 and np.all(np.isfinite(y))
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(x**2)), rel=0.05)
    assert np.max(np.abs(y)) <= 0.99 + 1e-6
    assert not np.allclose(x, y, atol=1e-3)
    z = neural_resynth(x, rate, np.random.default_rng(1), weights=tiny_weights)
    np.testing.assert_array_equal(y, z)  # deterministic


def test_neural_resynthesis_edge_inputs(tiny_weights):
    for x in (np.zeros(0, np.float32), np.zeros(1000, np.float32), np.full(7, 0.1, np.float32)):
        y = neural_resynth(x, 8000, np.random.default_rng(0), weights=tiny_weights)
        assert y.shape == x.shape and np.all(np.isfinite(y))


def test_generator_upsampling_matches_hop():
    with pytest.raises(ValueError, match="multiply"):
        gv.Generator(gv.VocoderConfig(upsample=(5, 5, 4)))


def test_shipped_weights_are_small_and_run():
    if not gv.WEIGHTS_PATH.is_file():
        pytest.skip(f"{gv.WEIGHTS_PATH} not built")
    assert gv.WEIGHTS_PATH.stat().st_size < 5 * 2**20
    b = torch.load(gv.WEIGHTS_PATH, weights_only=True)
    assert b["format"] == gv.FORMAT and all(v.dtype == torch.float16 for v in b["generator"].values())
    for rate in (8000, 16000):
        x = voiced(1.0, rate)
        y = RESYNTH_FAMILIES["neural"](x, rate, np.random.default_rng(0))
        assert y.shape == x.shape and np.all(np.isfinite(y))
    assert len(hashlib.sha256(gv.WEIGHTS_PATH.read_bytes()).hexdigest()) == 64


@pytest.fixture(scope="module")
def nearest_weights(tmp_path_factory):
    """The second design (nearest-neighbour upsampling + convolution, factors 8, 5, 5)."""
    root = tmp_path_factory.mktemp("gan_b")
    write_audio(root / "audio" / "a.wav", voiced(1.0, 16000, f0=140), 16000)
    rc = gv.main(["train", "--out", str(root / "run"), "--audio-dir", str(root / "audio"), "--max-steps", "2",
                  "--warmup-frac", "0", "--batch-size", "2", "--segment", "4000", "--upsampler", "nearest", "--factors", "8,5,5"])
    assert rc == 0
    out = root / "gan_b.pt"
    assert gv.main(["export", str(root / "run" / "ckpt.pt"), str(out)]) == 0
    return out


def test_nearest_upsampler_is_recorded_and_resynthesises_full_length(nearest_weights, tiny_weights):
    g, _ = gv.load_generator(nearest_weights)
    assert g.cfg.upsampler == "nearest" and g.cfg.upsample == (8, 5, 5) and g.cfg.hop == 200
    assert not any(isinstance(m, torch.nn.ConvTranspose1d) for m in g.modules())
    y = gv.resynthesize(voiced(1.3, 8000, f0=120), 8000, nearest_weights)
    assert y.shape == (int(1.3 * 8000),) and np.isfinite(y).all()
    # bundles written before the option existed load as the transposed design
    b = torch.load(tiny_weights, weights_only=True)
    assert gv._vcfg({k: v for k, v in b["vocoder_config"].items() if k != "upsampler"}).upsampler == "transposed"


def test_subpixel_upsampling_interleaves_channels_into_time():
    s = gv.SubPixel1d(1, 1, 3)
    torch.nn.init.zeros_(s.conv.weight)
    s.conv.bias.data = torch.tensor([1.0, 2.0, 3.0])
    assert s(torch.zeros(1, 1, 2)).flatten().tolist() == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    g = gv.Generator(gv.VocoderConfig(upsample=(10, 5, 4), upsampler="subpixel"))
    assert g(torch.zeros(1, 80, 7)).shape == (1, 7 * 200)
    with pytest.raises(ValueError, match="unknown upsampler"):
        gv.Generator(gv.VocoderConfig(upsampler="bilinear"))


def test_vocoder_transfer_rerenders_the_corpus_neural_items_with_the_same_draws(tmp_path, nearest_weights):
    """Paired test of an unseen vocoder: with the corpus' own vocoder the re-rendered
    files equal the corpus files (so only the vocoder differs when B is used)."""
    from audio.decode import decode_audio
    from detectors.voice_clone.corpus import CorpusConfig, build_corpus
    from detectors.voice_clone.vocoder_transfer import render_with_vocoder, trials
    from tests.voice.test_roundtrip import _fake_sources

    sources = _fake_sources(tmp_path / "src", per_speaker=2)
    cfg = CorpusConfig(seed=3, tts_per_voice=0, resynth_fraction=1.0, resynth_families=("neural",), unseen_families=(),
                       duration_bin_s=10.0)
    corpus = tmp_path / "corpus"
    build_corpus(corpus, cfg, bonafide_sources=sources, tts_voices=[])
    same = render_with_vocoder(corpus, gv.WEIGHTS_PATH, tmp_path / "a", bonafide_sources=sources)
    assert same
    assert all(r.same_draws for r in same)
    for r in same:
        ref = decode_audio(corpus / "flac" / f"{r.file_id}.flac").samples
        got = decode_audio(r.path).samples
        assert len(got) == len(ref) and np.max(np.abs(got - ref)) < 1e-3
    other = render_with_vocoder(corpus, nearest_weights, tmp_path / "b", bonafide_sources=sources)
    assert [r.file_id for r in other] == [r.file_id for r in same]
    bona, ta, tb = trials(corpus, other)
    assert bona and len(ta) == len(tb) == len(other) and {t.label for t in ta + tb} == {1}
    first = decode_audio(other[0].path).samples
    assert np.max(np.abs(first - decode_audio(same[0].path).samples)) > 1e-2


def test_vocoder_transfer_on_a_folder_that_is_not_a_corpus_says_so(tmp_path, capsys):
    from detectors.voice_clone.vocoder_transfer import main

    with pytest.raises(SystemExit) as exc:
        main(["--corpus", str(tmp_path), "--vocoder", str(gv.WEIGHTS_PATH), "--model", "m.pt", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "no metadata.csv" in capsys.readouterr().err


def test_derived_corpus_swaps_half_the_train_and_dev_neural_spoofs_and_nothing_else(tmp_path, nearest_weights):
    """Training on two vocoder designs: the derived corpus differs from its source only in those files."""
    from detectors.voice_clone.corpus import CorpusConfig, build_corpus, read_metadata
    from detectors.voice_clone.vocoder_transfer import TransferError, derive_mixed_corpus, render_with_vocoder
    from tests.voice.test_roundtrip import _fake_sources

    sources = _fake_sources(tmp_path / "src", per_speaker=4)
    cfg = CorpusConfig(seed=3, tts_per_voice=0, resynth_fraction=1.0, resynth_families=("neural",), unseen_families=(),
                       duration_bin_s=10.0)
    corpus = tmp_path / "corpus"
    build_corpus(corpus, cfg, bonafide_sources=sources, tts_voices=[])
    rec = derive_mixed_corpus(corpus, nearest_weights, tmp_path / "mixed", bonafide_sources=sources)
    mixed = tmp_path / "mixed"
    assert read_metadata(mixed) == read_metadata(corpus)
    assert (mixed / "manifest.json").read_bytes() == (corpus / "manifest.json").read_bytes()
    swapped = set(rec["swapped"])
    rows = {r["file_id"]: r for r in read_metadata(corpus)}
    assert swapped and all(rows[f]["family"] == "neural" and rows[f]["split"] in ("train", "dev") for f in swapped)
    assert len(swapped) < rec["rendered"]  # a half, not all
    for f in rows:
        same = (mixed / "flac" / f"{f}.flac").read_bytes() == (corpus / "flac" / f"{f}.flac").read_bytes()
        assert same != (f in swapped), f
    reference = {r.file_id: r.path for r in render_with_vocoder(corpus, nearest_weights, tmp_path / "ref", ("train",), sources)}
    for f in swapped & set(reference):
        assert (mixed / "flac" / f"{f}.flac").read_bytes() == reference[f].read_bytes()
    assert not (tmp_path / "mixed_renders").exists()
    with pytest.raises(TransferError, match="exists"):
        derive_mixed_corpus(corpus, nearest_weights, mixed, bonafide_sources=sources)
