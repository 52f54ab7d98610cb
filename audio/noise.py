"""How far speech stands above steady background noise, estimated blind.

A fan, a car, an air conditioner or a line hiss is steady: it fills the pauses
between words at about the level it has under them. So the quietest 20 ms
frames (the lowest tenth) measure the noise, and the louder half of the
frames measure speech plus noise. No voice activity detector is needed, and
it is cheap (one pass over the samples). Babble and music are not steady and
read as a higher ratio than they are; for the voice-clone model that is the
right bias, because babble did not raise its false alarms (measured in
``detectors.voice_clone.noise_eval``).

The estimate reads about 3 dB above the true speech-to-noise power ratio
(speech measured on its louder frames): steady noise added at 10 dB reads
13.4 dB, at 5 dB reads 8.6 dB, at 20 dB reads 22.8 dB (medians over 145
recordings).

``spectral_subtraction`` removes such noise the simple way meeting software
does (the speaker check embeds noisy speech through it: the voice encoder
took steady noise for another voice).
"""

from __future__ import annotations

import numpy as np

FRAME_S = 0.02
NOISE_QUANTILE = 10  # per cent of frames taken as the noise floor
MAX_DB = 60.0  # digital silence between words: no measurable noise


ENERGY_CHUNK = 1 << 22  # samples squared at a time


def frame_energies(x: np.ndarray, rate: int) -> np.ndarray:
    """Mean power of each whole 20 ms frame, in float64, a chunk at a time
    (hours of 48 kHz audio whole in float64 would take gigabytes)."""
    n = max(1, int(FRAME_S * rate))
    m = x.size // n
    energy = np.empty(m, np.float64)
    step = max(1, ENERGY_CHUNK // n)
    for a in range(0, m, step):
        b = min(m, a + step)
        blocks = np.asarray(x[a * n:b * n]).reshape(b - a, n)
        energy[a:b] = np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / n
    return energy


def steady_noise_snr_db(x: np.ndarray, rate: int) -> float | None:
    """Estimated speech-to-steady-noise ratio in dB, at most ``MAX_DB``
    (None when the audio is shorter than ten frames)."""
    energy = frame_energies(x, rate)
    if energy.size < 10:
        return None
    noise = float(energy[energy <= np.percentile(energy, NOISE_QUANTILE)].mean())
    loud = float(energy[energy >= np.percentile(energy, 50)].mean())
    if loud <= 0:
        return None
    if noise <= loud * 10 ** (-MAX_DB / 10):
        return MAX_DB
    return float(min(MAX_DB, 10 * np.log10(max(loud - noise, 1e-30) / noise)))


CHUNK_S = 60.0  # spectral subtraction works through long audio a minute at a time


def spectral_subtraction(x: np.ndarray, rate: int, over: float = 2.0, floor: float = 0.05) -> np.ndarray:
    """Blind spectral subtraction: per-band noise power averaged over the
    quietest tenth of 32 ms frames, subtracted ``over`` times, gain floored
    at ``floor``. Steady noise drops by about 10 dB; the residue is the
    "musical noise" of cheap suppressors. Same length as ``x``, float64.

    Long audio is processed a minute at a time, each minute's short-time
    spectrum taken with a margin of real signal on both sides, so the result
    equals the whole-file computation (to rounding) while only the power
    spectrogram is held whole: half an hour of audio peaks at 0.9 GB in all,
    where the whole-file spectra took 3.1 GB (and the two hours the speaker
    check accepts would have taken about 12 GB)."""
    from scipy.signal import istft, stft

    x = np.asarray(x, np.float64)
    nper = int(0.032 * rate)
    if x.size < 4 * nper:
        return x.copy()
    hop = nper - nper // 2  # scipy's default overlap
    chunk = max(1, int(CHUNK_S * rate) // hop) * hop
    margin = 2 * nper

    def spectrum(start: int, end: int):
        """Frames centred in [start, end) (to the end for the last piece), from a stretch with margins."""
        a, b = max(0, start - margin), min(x.size, end + margin)
        _, _, spec = stft(x[a:b], rate, nperseg=nper)
        centres = a + hop * np.arange(spec.shape[1])
        keep = (centres >= start) & ((centres < end) | (end >= x.size))
        return a, spec, keep

    pieces = [(s, min(x.size, s + chunk)) for s in range(0, x.size, chunk)]
    energies, powers = [], []
    for start, end in pieces:
        _, spec, keep = spectrum(start, end)
        p = np.abs(spec[:, keep]) ** 2
        energies.append(p.sum(axis=0))
        powers.append(p)
    frame_energy = np.concatenate(energies)
    cut = np.percentile(frame_energy, NOISE_QUANTILE)
    quiet_sum = sum(p[:, e <= cut].sum(axis=1) for p, e in zip(powers, energies))
    # a mean over the quiet frames: per-bin power scatters too widely for a low quantile
    noise = (quiet_sum / max(1, int((frame_energy <= cut).sum())))[:, None]
    del powers
    out = np.zeros(x.size)
    for start, end in pieces:
        a, spec, _ = spectrum(start, end)
        gain = np.maximum(1.0 - over * noise / (np.abs(spec) ** 2 + 1e-12), floor)
        _, y = istft(spec * gain, rate, nperseg=nper)
        got = y[start - a: end - a]
        out[start: start + got.size] = got
    return out


def with_steady_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator,
                      speech_power: float | None = None) -> np.ndarray:
    """``x`` plus broadband noise, gently low-passed (a 4-tap average: a fan,
    a car, a room), ``snr_db`` below ``speech_power`` (default: the power of
    ``x``). For measurements, not for the detectors' own use."""
    x = np.asarray(x, np.float64)
    n = np.convolve(rng.standard_normal(x.size), np.ones(4) / 4, "same")
    power = float(np.mean(x ** 2)) if speech_power is None else speech_power
    return x + n * np.sqrt((power + 1e-12) / 10 ** (snr_db / 10) / float(np.mean(n ** 2)))
