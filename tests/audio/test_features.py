import numpy as np
import pytest

from audio.features import (
    LfccConfig,
    LogSpecConfig,
    MgdConfig,
    StftConfig,
    dct_matrix,
    deltas,
    lfcc,
    linear_filterbank,
    log_mel,
    log_spectrogram,
    mel_filterbank,
    mgdcc,
    modified_group_delay,
    power_spectrogram,
)
from tests.audio.helpers import tone


def test_shapes_and_frame_rate():
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert lfcc(x, 16000).shape == (101, 60)
    assert lfcc(x, 16000, LfccConfig(deltas=False)).shape == (101, 20)
    assert log_mel(x, 16000).shape == (101, 80)


def test_dct_is_orthonormal():
    m = dct_matrix(20, 20)
    np.testing.assert_allclose(m @ m.T, np.eye(20), atol=1e-5)


def test_filterbanks_place_a_tone_in_the_right_band():
    x = tone(2000, 1.0)
    p = power_spectrogram(x).mean(axis=0)
    lin = linear_filterbank(20, 512, 16000)
    # 20 linear bands over 0-8 kHz: centres every 8000/21 Hz; 2000 Hz is nearest centre 5 (index 4)
    assert np.argmax(lin @ p) == int(round(2000 / (8000 / 21))) - 1
    mel = mel_filterbank(80, 512, 16000)
    centre = np.argmax(mel, axis=1) * 16000 / 512
    assert abs(centre[np.argmax(mel @ p)] - 2000) < 120


def test_deltas_of_a_ramp_are_its_slope():
    ramp = np.arange(50, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], np.float32)
    d = deltas(ramp)
    np.testing.assert_allclose(d[5:-5], np.tile([[1.0, -2.0]], (40, 1)), atol=1e-5)


def test_lfcc_sees_high_band_content_that_8k_audio_lacks():
    rng = np.random.default_rng(0)
    wide = rng.standard_normal(16000).astype(np.float32)
    from audio.resample import telephone_band

    narrow = telephone_band(wide, 16000)
    p_w, p_n = power_spectrogram(wide).mean(0), power_spectrogram(narrow).mean(0)
    hi = slice(int(4500 / 8000 * 256), 256)
    assert p_n[hi].sum() < 1e-3 * p_w[hi].sum()
    assert not np.allclose(lfcc(wide, 16000), lfcc(narrow, 16000))


def test_channel_filters_take_signals_of_any_length():
    """scipy's zero-phase filter refuses signals shorter than its edge padding;
    `verifier eval voice` met a 1-sample file in a user's folder and crashed."""
    from audio.resample import telephone_band, wide_band

    x = np.random.default_rng(1).standard_normal(200).astype(np.float32)
    for n in (0, 1, 2, 7, 39, 40, 80, 200):
        assert telephone_band(x[:n], 16000).shape == (n,) and wide_band(x[:n], 16000).shape == (n,)
    assert np.isfinite(telephone_band(x[:7], 16000)).all()


def test_empty_input():
    assert power_spectrogram(np.zeros(0, np.float32)).shape == (0, 257)
    with pytest.raises(ValueError):
        from audio.features import StftConfig

        power_spectrogram(np.zeros(100, np.float32), StftConfig(n_fft=256, win_length=400))


def test_log_spectrogram_keeps_only_the_band_and_resolves_harmonics():
    cfg = LogSpecConfig()
    rate = 16000
    assert log_spectrogram(np.zeros(rate, np.float32), rate, cfg).shape == (101, cfg.n_bins(rate))
    b = cfg.bins(rate)
    freqs = np.arange(b.start, b.stop) * rate / cfg.stft.n_fft
    assert freqs[0] >= cfg.fmin and freqs[-1] <= cfg.fmax
    # harmonics of 125 Hz: peaks at every harmonic, valleys half-way between them
    t = np.arange(rate) / rate
    x = sum(np.sin(2 * np.pi * 125 * k * t) for k in range(2, 30)).astype(np.float32)
    s = log_spectrogram(x, rate, cfg).mean(axis=0)
    at = lambda f: s[int(np.argmin(np.abs(freqs - f)))]  # noqa: E731
    assert all(at(125 * k) - at(125 * k + 62.5) > 3.0 for k in range(4, 28))


def test_group_delay_sees_where_an_impulse_sits_in_the_frame_while_lfcc_cannot():
    """A delay changes phase only: LFCC's spectral shape stays flat, the group delay grows with it."""
    stft = StftConfig(n_fft=512, win_length=512, hop_length=512)
    lfcc_cfg = LfccConfig(stft=stft, n_filters=40, n_ceps=30, fmin=200.0, fmax=3800.0, deltas=False)
    mgd_cfg = MgdConfig(stft=stft, deltas=False)
    shapes, delays = [], []
    for d in (150, 250, 350):
        x = np.zeros(3 * 512, np.float32)
        x[256 + d] = 1.0  # frame 1 covers samples 256..767
        shapes.append(lfcc(x, 16000, lfcc_cfg)[1, 1:])
        g = modified_group_delay(x, 16000, mgd_cfg)[1]
        assert g.std() < 1e-3 * g.mean()  # a pure delay: the same at every frequency
        delays.append(mgdcc(x, 16000, mgd_cfg)[1, 0])
    np.testing.assert_allclose(shapes[0], shapes[2], atol=1e-4)
    assert delays[0] < delays[1] < delays[2]


def test_group_delay_cepstra_shape_and_band():
    x = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    assert mgdcc(x, 16000).shape == (101, 90)
    assert modified_group_delay(x, 16000).shape[1] == LogSpecConfig().n_bins(16000)
