"""Low hum and tones that would hide speech from the noise gates.

The audio detectors judge nothing when speech stands too little above steady
background noise (``audio/noise.py``: voice_clone from 15 dB, the speaker
check from 11 dB). That blind estimate takes whatever fills the pauses for
noise. A forger who laid a 45 Hz tone at the speech's own level under a
cloned voice note switched both detectors off ("speech only 2 dB above steady
background noise"): a phone's or a laptop's loudspeaker hardly plays 45 Hz,
so the listener hears a clean voice. Mains hum on a badly grounded recorder
does the same to a genuine call.

A tone is not noise: it sits in one narrow spectral line and can be taken
out. Only audio a detector would decline (estimate under
``CONSIDER_BELOW_DB``) is examined, and a remedy is adopted only when it
raises the estimate by ``GAIN_DB`` or more, so ordinary recordings stay
bit-identical (the detectors were measured on them as decoded):

1. **Low rumble**: an 8th-order Butterworth high-pass at ``LOW_CUT_HZ``. It
   takes anything below ~70 Hz, tones that wander in pitch included (no notch
   holds those), and costs a deep male voice (fundamental from ~85 Hz) under
   1.5 dB at its lowest note.
2. **Low spectral lines**: frequencies under ``AUDIBLE_LINE_HZ`` whose power
   in the quiet moments stands ``LINE_PROMINENCE_DB`` above their spectral
   neighbourhood and is steady (a tone; mains hum and its first harmonics)
   are notched out, ``NOTCH_WIDTH_HZ`` wide. Voice harmonics are gone in the
   pauses and glide with the pitch, so they make no line there.

Tones in the voice's own band (from ``AUDIBLE_LINE_HZ``, where the
telephone band starts) are left in: they are audible to whoever listens, and
notches there change the voice as the speaker encoder hears it (2 Hz
notches at 300, 350, ... 500 Hz brought an FSDD impostor's clean speech
+0.06 closer to the claimed voice in cosine; one at 400 Hz, +0.02). When
such tones still fill the pauses once the low ones are out, nothing is
changed and the detectors decline, as before.

What is filtered out must also be a background no louder than the speech:
the louder half of the frames must keep ``KEEP_LOUD_DB`` of their power (a
tone as loud as the speech takes about 3 dB from them, one 6 dB louder about
7 dB). A file that is mostly a tone, a line-up signal, is left alone; so is a
tone laid over the speech, and the detectors decline, as before. Filtered
out, tones 6 dB over the speech left a residue that brought other voices up
to +0.11 closer to a call in the speaker encoder's cosine (tones at the
speech's level or under it: at most +0.08; a faint tone left in: +0.06;
``audio/hum_eval.py``).
"""

from __future__ import annotations

import numpy as np

from audio.noise import frame_energies
from audio.noise import steady_noise_snr_db as snr_db

CONSIDER_BELOW_DB = 15.0
GAIN_DB = 3.0
MIN_AFTER_DB = 3.0  # a file without quiet moments (one long tone) reads around 0 dB or below either way
KEEP_LOUD_DB = -5.0
LOW_CUT_HZ = 80.0
LOW_CUT_ORDER = 8
LINE_PROMINENCE_DB = 12.0
LINE_NEIGHBOURHOOD_HZ = 160.0
FLOOR_PERCENTILE = 10
STEADY_DB = 8.0
LINE_MIN_HZ = 20.0
AUDIBLE_LINE_HZ = 300.0
MAX_LINES = 48
NOTCH_WIDTH_HZ = 4.0
SPECTRUM_FRAME_S = 0.25
MAX_SPECTRUM_FRAMES = 4000  # spread over the file: eight minutes' worth at most
CHUNK = 1 << 22  # samples filtered at a time (state carried over)


def spectral_lines(samples: np.ndarray, rate: int) -> list[float]:
    """Frequencies (Hz) of steady narrow lines in the quiet moments' spectrum,
    strongest first.

    The floor of each frequency (its ``FLOOR_PERCENTILE``-th percentile over
    0.26 s frames) is what stays there in the pauses: a tone, or mains hum,
    stands out of it as a line; voice harmonics, gone in the pauses and
    gliding with the pitch, do not. A line must also be steady
    (``STEADY_DB``: its median no further above its floor), which a
    constant-pitch vowel with a syllable rhythm and no pause is not.
    """
    from scipy.ndimage import median_filter

    size = 1 << int(np.ceil(np.log2(max(2, SPECTRUM_FRAME_S * rate))))
    hop = size // 2
    count = (samples.size - size) // hop + 1
    if count < 4:
        return []
    starts = np.linspace(0, (count - 1) * hop, min(count, MAX_SPECTRUM_FRAMES)).astype(np.int64)
    window = np.hanning(size).astype(np.float32)
    power = np.empty((starts.size, size // 2 + 1), np.float32)
    for a in range(0, starts.size, 256):
        frames = np.stack([samples[s:s + size] for s in starts[a:a + 256]]) * window
        power[a:a + 256] = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    floor, median = np.percentile(power, [FLOOR_PERCENTILE, 50], axis=0)
    hz = rate / size
    log = 10 * np.log10(floor.astype(np.float64) + 1e-30)
    background = median_filter(log, size=int(LINE_NEIGHBOURHOOD_HZ / hz) | 1, mode="nearest")
    steady = 10 * np.log10((median + 1e-30) / (floor + 1e-30)) <= STEADY_DB
    inner = np.arange(1, log.size - 1)
    peak = inner[(log[inner] >= log[inner - 1]) & (log[inner] > log[inner + 1])
                 & (log[inner] - background[inner] >= LINE_PROMINENCE_DB) & steady[inner]
                 & (inner * hz >= LINE_MIN_HZ) & (inner * hz <= 0.95 * rate / 2)]
    peak = peak[np.argsort(-log[peak])][:MAX_LINES]
    lines = []
    for k in peak:  # parabolic interpolation of the peak on the log spectrum
        lo, mid, hi = log[k - 1], log[k], log[k + 1]
        den = lo - 2 * mid + hi
        shift = 0.5 * (lo - hi) / den if den < 0 else 0.0
        lines.append(float((k + shift) * hz))
    return lines


def filter_chunked(samples: np.ndarray, sos: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``samples`` through ``sos`` a chunk at a time (hours of audio whole in
    float64 would take gigabytes), started as if the first sample had always
    been there; into ``out`` (may be ``samples`` itself) or a new array."""
    from scipy.signal import sosfilt, sosfilt_zi

    out = np.empty_like(samples) if out is None else out
    zi = sosfilt_zi(sos) * float(samples[0])
    for a in range(0, samples.size, CHUNK):
        part, zi = sosfilt(sos, samples[a:a + CHUNK].astype(np.float64), zi=zi)
        out[a:a + CHUNK] = part
    return out


def _low_cut(samples: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import butter

    return filter_chunked(samples, butter(LOW_CUT_ORDER, LOW_CUT_HZ, btype="highpass", fs=rate, output="sos"))


def _notched(samples: np.ndarray, rate: int, lines: list[float]) -> np.ndarray:
    from scipy.signal import iirnotch, tf2sos

    sos = np.concatenate([tf2sos(*iirnotch(f, f / NOTCH_WIDTH_HZ, fs=rate)) for f in lines])
    return filter_chunked(samples, sos)


def _hz_list(lines: list[float]) -> str:
    shown = ", ".join(f"{f:.0f}" for f in sorted(lines)[:6])
    return shown + (f" and {len(lines) - 6} more" if len(lines) > 6 else "") + " Hz"


def _loud_power(samples: np.ndarray, rate: int) -> float:
    energy = frame_energies(samples, rate)
    return float(energy[energy >= np.percentile(energy, 50)].mean())


def _helps(after: float | None, level: float, filtered: np.ndarray, loud_before: float, rate: int) -> bool:
    return (after is not None and after >= max(level + GAIN_DB, MIN_AFTER_DB)
            and _loud_power(filtered, rate) >= loud_before * 10 ** (KEEP_LOUD_DB / 10))


def remove_hum(samples: np.ndarray, rate: int) -> str | None:
    """Take steady rumble and low tones out of ``samples`` in place when they
    hide the speech from the noise estimate; what was done, in words, or
    None (``samples`` untouched)."""
    before = snr_db(samples, rate)
    if before is None or before >= CONSIDER_BELOW_DB:
        return None
    done = []
    work, level = samples, before
    loud = _loud_power(samples, rate)
    if rate > 4 * LOW_CUT_HZ:
        cut = _low_cut(work, rate)
        after = snr_db(cut, rate)
        if _helps(after, level, cut, loud, rate):
            work, level = cut, after
            done.append(f"a steady rumble below {LOW_CUT_HZ:.0f} Hz")
    lines = spectral_lines(work, rate)
    low = [f for f in lines if f < AUDIBLE_LINE_HZ]
    if low:
        notched = _notched(work, rate, low)
        after = snr_db(notched, rate)
        if _helps(after, level, notched, loud, rate):
            work, level = notched, after
            done.append(f"steady tones at {_hz_list(low)}")
    audible = [f for f in lines if f >= AUDIBLE_LINE_HZ]
    if done and audible:
        louder = snr_db(_notched(work, rate, audible), rate)
        if louder is not None and louder >= level + GAIN_DB:
            return None  # audible tones fill the pauses too: all left in, and the detectors decline on them
    if not done:
        return None
    samples[:] = work
    return (f"{' and '.join(done)} filled the pauses between words (hum, or a tone laid under the speech: "
            f"speech stood {before:.0f} dB above it, {level:.0f} dB once it was filtered out before analysis)")
