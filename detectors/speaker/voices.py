"""How many voices a recording holds, and which speech is whose.

A call recording has two parties. The speaker check used to embed all the
speech at once, so the claimed speaker's voice was averaged with the other
party's, and a genuine executive on a recorded call read "does not match"
(LLR >= 1 in the sixteenth session's two-party calls, ``docs/speaker.md``).
The question a finance team asks of a call is whether the claimed person is
one of the voices in it, so the 1.6 s partial embeddings are clustered into
voices and each voice is compared on its own.

Average-linkage clustering on cosine similarity; two groups of partials are
one voice while their mean pairwise similarity is at least
``MERGE_SIMILARITY``. On the speaker corpus (4 s utterances, 32 speakers)
single partials of one speaker have median similarity 0.76 (5th percentile
0.61) and of two speakers 0.48 (95th percentile 0.61); averages over many
pairs spread less. A voice needs ``MIN_VOICE_S`` of speech; smaller groups
(a cough, a laugh, a few words) join the nearest voice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detectors.speaker.encoder import PARTIALS_PER_S, Partials, l2

MERGE_SIMILARITY = 0.62
MIN_VOICE_S = 3.0


@dataclass(frozen=True)
class Voice:
    members: np.ndarray  # indices of its partials
    seconds: float  # speech, about one partial hop per partial
    embedding: np.ndarray  # L2-normed mean of its partials


def _voice(partials: Partials, members: np.ndarray) -> Voice:
    return Voice(members, len(members) / PARTIALS_PER_S, l2(partials.vectors[members].mean(axis=0)))


def voices(partials: Partials) -> list[Voice]:
    """The voices heard, most speech first; one voice (all the partials) when
    the speech does not split into two of at least ``MIN_VOICE_S`` each."""
    n = len(partials.vectors)
    whole = [_voice(partials, np.arange(n))]
    min_partials = int(np.ceil(MIN_VOICE_S * PARTIALS_PER_S))
    if n < 2 * min_partials:
        return whole
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(partials.vectors.astype(np.float64), method="average", metric="cosine")
    labels = fcluster(tree, t=1.0 - MERGE_SIMILARITY, criterion="distance")
    groups = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    big = [g for g in groups if len(g) >= min_partials]
    if len(big) < 2:
        return whole
    centroids = np.stack([l2(partials.vectors[g].mean(axis=0)) for g in big])
    members = [list(g) for g in big]
    for g in groups:
        if len(g) < min_partials:
            members[int(np.argmax(centroids @ l2(partials.vectors[g].mean(axis=0))))] += list(g)
    heard = [_voice(partials, np.sort(np.asarray(m))) for m in members]
    return sorted(heard, key=lambda v: -v.seconds)
