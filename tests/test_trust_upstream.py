"""The trust report on brian2modelfitting's own HH example (its recordings, its calls): as
written it must say "do not trust" and name the evidence (benchmarks/bench_upstream_trust.py
runs it at full size)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from benchmarks.bench_upstream_trust import TRUTH, as_written
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
