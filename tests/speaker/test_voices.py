"""Voices in a recording, from the partial embeddings (``detectors.speaker.voices``)."""

from __future__ import annotations

import numpy as np

from detectors.speaker.encoder import PARTIALS_PER_S, Partials, l2
from detectors.speaker.voices import MIN_VOICE_S, voices


def partials_of(*groups: tuple[np.ndarray, int], seed: int = 0, spread: float = 0.6) -> Partials:
    """Partials scattered around each group's centre: noise of norm about
    ``spread`` on a unit vector gives a same-voice similarity of about 0.75,
    as GE2E partials of one speaker measure on the corpus."""
    rng = np.random.default_rng(seed)
    vecs = [l2(centre + spread * rng.standard_normal(256) / 16)
            for centre, n in groups for _ in range(n)]
    return Partials(np.stack(vecs), np.arange(len(vecs)) / PARTIALS_PER_S)


def centre(seed: int) -> np.ndarray:
    return l2(np.random.default_rng(100 + seed).standard_normal(256))


def test_two_parties_are_two_voices_and_one_speaker_is_one():
    a, b = centre(1), centre(2)
    n = int(np.ceil(MIN_VOICE_S * PARTIALS_PER_S)) + 4
    heard = voices(partials_of((a, n), (b, n + 3)))
    assert len(heard) == 2
    assert heard[0].seconds > heard[1].seconds
    assert heard[0].embedding @ b > 0.9 and heard[1].embedding @ a > 0.9
    assert sorted(np.concatenate([v.members for v in heard]).tolist()) == list(range(2 * n + 3))
    one = voices(partials_of((a, 3 * n)))
    assert len(one) == 1 and len(one[0].members) == 3 * n


def test_a_few_words_of_someone_else_are_not_a_voice():
    """Under MIN_VOICE_S of a second voice (a cough, a word from across the
    room) joins the main voice instead of being judged on its own."""
    a, b = centre(1), centre(2)
    n = int(np.ceil(MIN_VOICE_S * PARTIALS_PER_S))
    heard = voices(partials_of((a, 3 * n), (b, n - 2)))
    assert len(heard) == 1 and len(heard[0].members) == 4 * n - 2


def test_short_speech_is_one_voice():
    a, b = centre(1), centre(2)
    heard = voices(partials_of((a, 3), (b, 3)))
    assert len(heard) == 1
