"""A fixed, replayable slice of the fuzz campaign (`python -m tests.fuzz.run`)
on the generated fixtures: every mutated file ends in a verdict or a typed
input error, with every detector selected and the report rendered. The long
campaign (shared media as seeds too) is run by hand; its figures are in the
README's robustness section."""

from __future__ import annotations

import time

from tests.fuzz.run import collect_seeds, plan_cases, run_cases, summarise


def test_mutated_fixtures_end_in_a_verdict_or_an_input_error(tmp_path):
    seeds = collect_seeds(tmp_path / "seeds", use_shared=False)
    assert len(seeds) >= 14
    cases = plan_cases(seeds, seed=7, count=60)
    outcomes = run_cases(cases, tmp_path / "out", deadline=time.monotonic() + 600, case_timeout=60)
    assert len(outcomes) == len(cases)
    bad = [o for o in outcomes if o.kind not in ("verdict", "input_error")]
    assert not bad, summarise(outcomes) + "\n" + "\n".join(f"{o.case_id} {o.mutator}: {o.detail}" for o in bad)
    assert len({o.mutator for o in outcomes}) >= 10  # the slice exercises nearly every mutator
