"""The trust report on brian2modelfitting's own HH example (its recordings, its calls): as
written it must say "do not trust" and name the evidence (benchmarks/bench_upstream_trust.py
runs it at full size)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench_upstream_trust import TRUTH, as_written, made_right, score
from benchmarks.bench_upstream_workload import load

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"


def test_the_report_on_upstreams_hh_example_says_do_not_trust():
    inp, out = load(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inf = as_written(inp, out, 300, "numpy", seed=1)
        report = inf.trust_report(n_predictive=40, n_local=10, n_local_draws=50, n_draws=100,
                                  verbose=False)
    assert report.verdict == "do not trust", str(report)
    failed = {c.check for c in report.failed}
    assert failed & {"observation", "prior mass", "predictive", "estimator agreement"}, failed
    text = str(report)
    assert "v." in text  # the evidence names features
    assert set(TRUTH) == set(inf.space.names)


def test_made_right_the_example_recovers_every_generating_value():
    # the recordings' initial state (closed gates at -65 mV), their noise, one spike rule,
    # and the budget in three zoomed rounds: every generating value inside its 90% interval
    # and within 3% of the posterior median (as written, all four are outside)
    inp, out = load(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inf = made_right(inp, out, 4000, "cython", seed=1, rounds=3)
    for name, row in score(inf).items():
        assert row["inside"], (name, row)
    draws = inf.sample_array(2000, seed=0)
    for j, name in enumerate(inf.space.names):
        assert abs(np.median(draws[:, j]) / TRUTH[name] - 1) < 0.03, name
