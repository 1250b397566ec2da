"""The validation benchmark's exact posterior is exact: closed form, grid, feature noise."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from benchmarks.validation import exact  # noqa: E402
from benchmarks.validation import problem as P  # noqa: E402


def test_closed_form_matches_brian():
    inferencer = P.make_inferencer(target="numpy")
    assert P.check_closed_form(inferencer, n=4) < 1e-12  # volts


def test_observation_uses_the_noisy_features():
    inferencer = P.make_inferencer(seed=0)
    clean = P.window_means(P.truth_array())
    residual = inferencer.x_o[0] - clean
    assert 0 < np.abs(residual).max() < 5 * P.NOISE_SD


def test_feature_noise_is_per_row_reproducible_and_has_the_right_sd():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(4000, 8))
    a = P.row_noise(rows, 0.5, seed=3)
    assert np.array_equal(a, P.row_noise(rows, 0.5, seed=3))  # reproducible
    assert not np.array_equal(a, P.row_noise(rows, 0.5, seed=4))  # seed matters
    assert a.std() == pytest.approx(0.5, rel=0.03)
    assert abs(np.corrcoef(a[:-1, 0], a[1:, 0])[0, 1]) < 0.05  # rows independent


def test_grid_posterior_of_a_gaussian():
    # likelihood N(theta; mu, s^2) per axis, well inside the box: posterior = that Gaussian
    mu, s = np.array([0.3, -1.0]), np.array([0.05, 0.2])

    def log_likelihood(theta):
        return -0.5 * np.sum(((theta - mu) / s) ** 2, axis=-1)

    grid = exact.grid_posterior(log_likelihood, np.array([0.0, -3.0]), np.array([1.0, 1.0]),
                                coarse=40, fine=120)
    samples = grid.sample(20_000, np.random.default_rng(1))
    np.testing.assert_allclose(samples.mean(axis=0), mu, atol=0.02 * s.max())
    np.testing.assert_allclose(samples.std(axis=0), s, rtol=0.03)
    assert grid.boundary_mass(np.array([0.0, -3.0]), np.array([1.0, 1.0])) < 1e-6


def test_report_table_puts_ours_and_sbi_side_by_side(tmp_path):
    from benchmarks.validation.report import BEGIN, END, format_table, write_docs
    from benchmarks.validation.run import Row

    def row(setting, train_s, sample_s, c2st):
        return Row(10_000, "snle", setting, 0, 1.3, train_s, train_s, 50, 1000, sample_s,
                   sample_s, "rejection", c2st)

    table = format_table([row("ours", 10.0, 1.0, 0.55), row("sbi", 30.0, 8.0, 0.54)])
    line = next(t for t in table.splitlines() if t.startswith("10,000"))
    assert "10.0 / 30.0" in line and "3.0x" in line and "8.0x" in line
    assert "0.550 / 0.540" in line
    page = tmp_path / "benchmarks.rst"
    page.write_text(f"Intro\n\n{BEGIN}\nold\n{END}\n\nOutro\n")
    write_docs(page, table, {"sizes": [10_000], "repeats": 1, "calibrate": "ours",
                             "target": "numpy"})
    text = page.read_text()
    assert "old" not in text and line in text
    assert text.startswith("Intro") and text.rstrip().endswith("Outro")
