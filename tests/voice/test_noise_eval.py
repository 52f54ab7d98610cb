"""The noise-robustness measurement makes the conditions it names."""

from __future__ import annotations

import numpy as np

from detectors.voice_clone.noise_eval import CONDITIONS, conditions


def test_every_condition_is_made():
    x = np.random.default_rng(2).standard_normal(8000)
    made = conditions(x, 8000, np.random.default_rng(3))
    assert tuple(made) == CONDITIONS and all(v.size == x.size for v in made.values())
