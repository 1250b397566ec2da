"""The HH validation problems: their features count what they say, their table is written."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.validation import hh  # noqa: E402
from benchmarks.validation.hh_run import BEGIN, END, HHRow, write_docs  # noqa: E402


def _trace(spike_steps, n=1000, noise=0.0):
    v = np.full(n, -0.065)
    for s in spike_steps:
        v[s : s + 5] = 0.02  # a 5-step excursion above -10 mV
    return v + np.random.default_rng(0).normal(0, noise, n)


def test_spike_count_and_moments():
    v = np.stack([_trace([300, 500, 700], noise=1e-3), _trace([])])[None]  # (1, 2, 1000)
    x = hh.goncalves_features(v, on=200, off=900).reshape(7, 2)
    assert x[0].tolist() == [3, 0]  # recording noise does not add spikes
    assert abs(x[1, 0] + 0.065) < 1e-3 and abs(x[2, 0] - 1e-3) < 3e-4  # resting mean, std
    assert x[2, 1] == 0.0  # no noise, no spread
    assert x[5, 0] > 0  # spikes skew v upwards


def test_the_problems_declare_their_priors():
    for name, problem in hh.PROBLEMS.items():
        assert set(problem.bounds) == set(problem.truth), name
        for key, (low, high) in problem.bounds.items():
            assert low < problem.truth[key] < high, (name, key)
    assert len(hh.PROBLEMS["hh8"].bounds) == 8 and len(hh.PROBLEMS["hh4"].bounds) == 4


def test_the_table_goes_between_the_markers(tmp_path):
    page = tmp_path / "benchmarks.rst"
    page.write_text(f"Title\n\n{BEGIN}\nold\n{END}\ntail\n")
    coverage = {"0.5": {"a": 0.5, "b": 0.45}, "0.9": {"a": 0.9, "b": 0.8}}
    row = HHRow("hh4", 2000, "snpe", 3.0, 4.0, 50.0, 120, 1.5, "direct", 200, 0.3, 0.01,
                0.5, coverage, {"a": 0.3, "b": 0.6})
    write_docs(page, [row], "python -m benchmarks.validation --problem hh4")
    text = page.read_text()
    assert "old" not in text and text.endswith("tail\n")
    assert "0.80-0.90!" in text and "hh4 2,000 snpe: a 0.90, b 0.80" in text
