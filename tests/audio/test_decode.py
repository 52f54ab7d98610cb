import av
import numpy as np
import pytest

from audio.decode import AudioDecodeError, AudioTooLongError, NoAudioStreamError, decode_audio
from audio.encode import CODECS, codec_roundtrip, write_audio
from tests.audio.helpers import mux_audio, real_speech_files, tone, write_wav


def test_stereo_44k_wav_becomes_mono_16k(tmp_path):
    p = write_wav(tmp_path / "s.wav", tone(440, 1.5, 44100), 44100, channels=2)
    d = decode_audio(p)
    assert d.sample_rate == 16000 and d.native_rate == 44100 and d.native_channels == 2
    assert d.samples.dtype == np.float32 and d.samples.ndim == 1
    assert abs(d.duration_s - 1.5) < 0.01
    # the tone survives: dominant frequency is 440 Hz
    spec = np.abs(np.fft.rfft(d.samples))
    assert abs(np.argmax(spec) * 16000 / len(d.samples) - 440) < 2


def test_native_rate_kept_when_asked(tmp_path):
    p = write_wav(tmp_path / "n.wav", tone(300, 1.0, 8000), 8000)
    d = decode_audio(p, target_rate=None)
    assert d.sample_rate == 8000 and len(d.samples) == 8000


def test_video_without_audio_is_a_clear_error(tmp_path):
    p = tmp_path / "v.mp4"
    with av.open(str(p), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, np.uint8), format="rgb24")
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    with pytest.raises(NoAudioStreamError, match="no audio stream"):
        decode_audio(p)


def test_garbage_and_missing_files(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not media at all" * 10)
    with pytest.raises(AudioDecodeError):
        decode_audio(junk)
    with pytest.raises(AudioDecodeError, match="no such file"):
        decode_audio(tmp_path / "missing.wav")


def test_duration_guard(tmp_path):
    p = write_wav(tmp_path / "long.wav", tone(200, 5.0, 8000), 8000)
    with pytest.raises(AudioTooLongError, match="guard"):
        decode_audio(p, max_duration_s=2.0)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_codec_roundtrip_keeps_length_and_alignment(codec, tmp_path):
    x = tone(500, 1.0, 16000, amp=0.4) * np.hanning(16000).astype(np.float32)
    y = codec_roundtrip(x, 16000, codec)
    assert y.shape == x.shape
    corr = float(np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y)))
    assert corr > 0.9, corr
    d = decode_audio(write_audio(tmp_path / f"x.{codec}", x, 16000, codec))
    assert abs(d.duration_s - 1.0) < 0.15


@pytest.mark.parametrize("path", real_speech_files(), ids=lambda p: p.name)
def test_real_speech_decodes(path):
    d = decode_audio(path)
    assert d.duration_s > 1.0 and 0.01 < float(np.sqrt(np.mean(d.samples**2))) < 1.0


def _write_stereo(path, left, right, codec, rate=16000, fmt=None):
    with av.open(str(path), "w", format=fmt) as out:
        s = out.add_stream(codec, rate=rate)
        s.layout = "stereo"
        mux_audio(out, s, np.stack([left, right]), "stereo", rate, step=1024)
    return path


@pytest.mark.parametrize("codec,name", [("pcm_s16le", "x.wav"), ("aac", "x.m4a"), ("flac", "x.flac")])
def test_channels_that_cancel_in_a_mono_mix_are_read_one_at_a_time(tmp_path, codec, name):
    """A right channel that is the left one inverted sounds normal and mixes to
    silence: every detector reading the mono mix heard nothing."""
    x = 0.3 * tone(440, 2.0, 16000) * np.sin(2 * np.pi * 3 * np.arange(32000) / 16000)
    d = decode_audio(_write_stereo(tmp_path / name, x, -x, codec))
    assert d.channel_note is not None and "cancel each other in a mono mix" in d.channel_note
    assert float(np.sqrt(np.mean(d.samples**2))) > 0.05  # the voice is back


def test_ordinary_stereo_is_still_mixed(tmp_path):
    x = 0.3 * tone(440, 2.0, 16000)
    for right in (np.zeros_like(x), 0.5 * x, -0.2 * x):  # one silent channel; correlated; partly opposed
        d = decode_audio(_write_stereo(tmp_path / "s.wav", x, right, "pcm_s16le"))
        assert d.channel_note is None


def test_a_cancelled_stretch_is_caught_too(tmp_path):
    """Only the spliced sentence inverted: the whole-file mix loses little,
    but 1.5 s of it is silence to a mono detector."""
    rate = 16000
    x = 0.3 * tone(440, 6.0, rate)
    right = x.copy()
    right[int(2.0 * rate) : int(3.5 * rate)] *= -1
    d = decode_audio(_write_stereo(tmp_path / "part.wav", x, right, "pcm_s16le"))
    assert d.channel_note is not None and "for 1." in d.channel_note and "s of audible sound" in d.channel_note
    short = right.copy()
    short[int(3.5 * rate) :] = x[int(3.5 * rate) :]
    short[int(2.0 * rate) : int(2.5 * rate)] = -x[int(2.0 * rate) : int(2.5 * rate)]
    short[int(2.5 * rate) : int(3.5 * rate)] = x[int(2.5 * rate) : int(3.5 * rate)]
    assert decode_audio(_write_stereo(tmp_path / "blip.wav", x, short, "pcm_s16le")).channel_note is None  # 0.5 s: left alone


def _float_wav(path, x: np.ndarray, rate: int = 16000):
    import soundfile as sf

    sf.write(str(path), x, rate, subtype="FLOAT")
    return path


def test_samples_that_are_not_numbers_are_read_as_silence_and_said(tmp_path):
    """A float WAV can hold NaN and infinite samples; 100 of them made every
    audio detector read "0.0 s of speech" (a way to switch them off)."""
    from audio.vad import detect_speech
    from tests.audio.helpers import voiced

    x = np.concatenate([voiced(1.5, seed=1), np.zeros(8000, np.float32), voiced(1.5, seed=2)])
    bad = x.copy()
    bad[4000:4100] = np.nan
    bad[20000] = np.inf
    d = decode_audio(_float_wav(tmp_path / "nan.wav", bad))
    assert np.isfinite(d.samples).all()
    assert d.sample_note is not None and "not numbers (NaN or infinite) and were read as silence" in d.sample_note
    assert d.sample_note in d.reading_clause
    keep = np.ones(x.size, bool)
    keep[4000:4100] = keep[20000] = False
    assert np.allclose(d.samples[keep], x[keep], atol=1e-6) and (d.samples[~keep] == 0).all()
    assert detect_speech(d.samples, 16000, "energy").speech_s > 2.0
    assert decode_audio(_float_wav(tmp_path / "clean.wav", x)).sample_note is None


def test_float_audio_far_beyond_full_scale_is_scaled_not_clipped(tmp_path):
    """Samples at 1e30 clipped to a square wave that read as "speech -300 dB
    above the noise"; scaled to full scale they keep their waveform. A little
    over full scale is clipped, as a player would, without a note."""
    from tests.audio.helpers import voiced

    x = voiced(2.0, amp=0.5)
    d = decode_audio(_float_wav(tmp_path / "huge.wav", x * 1e30))
    assert np.allclose(d.samples, x / np.max(np.abs(x)), atol=1e-5)
    assert d.sample_note is not None and "scaled down to full scale" in d.sample_note
    hot = decode_audio(_float_wav(tmp_path / "hot.wav", x * 3.0))  # peak 1.5: clipped
    assert hot.sample_note is None and np.max(np.abs(hot.samples)) == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["dc_offset", "infrasound_5hz"])
def test_inaudible_sound_below_20_hz_is_filtered_out_and_said(tmp_path, name):
    """A DC offset or a 5 Hz sine is inaudible but read as steady noise by the
    blind noise estimate, which made the voice detectors decline."""
    from audio.noise import steady_noise_snr_db
    from tests.audio.helpers import voiced

    x = np.concatenate([voiced(1.0, seed=1), np.zeros(4000, np.float32), voiced(1.0, seed=2), np.zeros(4000, np.float32)])
    t = np.arange(x.size) / 16000
    low = 0.4 if name == "dc_offset" else 0.4 * np.sin(2 * np.pi * 5 * t)
    d = decode_audio(write_wav(tmp_path / f"{name}.wav", 0.5 * x + low, 16000))
    assert d.sample_note is not None and "below 20 Hz" in d.sample_note and "filtered out" in d.sample_note
    assert abs(float(np.mean(d.samples[8000:]))) < 0.01  # the offset is gone (after the filter settles)
    assert steady_noise_snr_db(d.samples, 16000) > 30
    plain = decode_audio(write_wav(tmp_path / "plain.wav", 0.5 * x, 16000))
    assert plain.sample_note is None  # ordinary audio is left as decoded


@pytest.mark.parametrize("hz", [20, 25])
def test_a_tone_at_the_edge_of_hearing_does_not_pass_for_noise(tmp_path, hz):
    """A 20 Hz sine at the speech's own level, only halved by a filter cornered at
    20 Hz, read as "speech 9 dB above steady noise" and made the speaker check
    decline on an impostor's voice note (red team, session 24)."""
    from audio.noise import steady_noise_snr_db
    from detectors.speaker.claim import DECLINE_BELOW_DB
    from tests.audio.helpers import voiced

    x = np.concatenate([voiced(1.0, seed=1), np.zeros(4000, np.float32), voiced(1.0, seed=2), np.zeros(4000, np.float32)])
    t = np.arange(x.size) / 16000
    speech_rms = float(np.sqrt(np.mean((0.5 * x) ** 2)))
    tone = speech_rms * np.sqrt(2) * np.sin(2 * np.pi * hz * t)  # as loud as the speech
    assert steady_noise_snr_db((0.5 * x + tone).astype(np.float32), 16000) < DECLINE_BELOW_DB  # what the estimate read
    d = decode_audio(write_wav(tmp_path / f"tone{hz}.wav", 0.5 * x + tone, 16000))
    assert d.sample_note is not None and "filtered out" in d.sample_note
    assert steady_noise_snr_db(d.samples, 16000) > DECLINE_BELOW_DB + 3


def test_a_frame_rate_the_container_cannot_mean_is_not_believed():
    """A mangled MP4 sample table declared 0.00003 fps (found by fuzzing):
    the first plausible of average, guessed and base rate is used instead."""
    from fractions import Fraction
    from types import SimpleNamespace

    from audio.decode import stream_frame_rate

    def stream(avg, guessed, base):
        return SimpleNamespace(average_rate=avg, guessed_rate=guessed, base_rate=base)

    assert stream_frame_rate(stream(Fraction(30000, 1001), 30, 30)) == pytest.approx(29.97, abs=0.01)
    assert stream_frame_rate(stream(Fraction(12221, 359604261), Fraction(25), 25)) == 25.0
    assert stream_frame_rate(stream(None, None, Fraction(90000))) == 25.0
    assert stream_frame_rate(stream(0, None, 12.5)) == 12.5
