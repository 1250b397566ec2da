"""Pairplot, conditional pairplot and conditional correlations: labels, limits, points."""

from __future__ import annotations

import numpy as np
import pytest
from brian2 import nS, pF
from matplotlib.figure import Figure
from workflow_support import trained_snpe, truth

from brian2modelfitting_sbi import ProblemError
from brian2modelfitting_sbi.plotting import conditional_corrcoef


def labels(fig) -> set[str]:
    return {t for ax in fig.axes for t in (ax.get_xlabel(), ax.get_ylabel()) if t}


def visible(fig) -> list:
    return [ax for ax in fig.axes if ax.axison]


def test_pairplot_labels_limits_and_points():
    inf = trained_snpe()
    fig = inf.pairplot(n_samples=500, points=truth())
    assert isinstance(fig, Figure)
    assert labels(fig) == {"C [pF]", "gL [nS]"}
    diag_c, upper, diag_gl = visible(fig)
    # prior bounds in display units are the default limits
    assert diag_c.get_xlim() == pytest.approx((50, 400))
    assert diag_gl.get_xlim() == pytest.approx((1, 30))
    assert upper.get_xlim() == pytest.approx((1, 30)) and upper.get_ylim() == pytest.approx(
        (50, 400)
    )
    # the ground truth is marked: a vertical line at 200 pF, a point at (10 nS, 200 pF)
    assert any(np.allclose(line.get_xdata(), 200) for line in diag_c.lines)
    marks = [line for line in upper.lines if line.get_marker() == "o"]
    assert marks and np.allclose(marks[0].get_xydata(), [[10, 200]])


def test_pairplot_custom_limits_and_errors():
    inf = trained_snpe()
    fig = inf.pairplot(n_samples=200, limits={"C": [150 * pF, 250 * pF]}, bins=10)
    assert visible(fig)[0].get_xlim() == pytest.approx((150, 250))
    with pytest.raises(ProblemError, match=r"limits\['C'\]"):
        inf.pairplot(n_samples=200, limits={"C": [150 * nS, 250 * nS]})
    with pytest.raises(ProblemError, match="not an inferred parameter"):
        inf.pairplot(n_samples=200, limits={"EL": [1 * pF, 2 * pF]})


def test_conditional_pairplot_at_truth():
    inf = trained_snpe()
    fig = inf.conditional_pairplot(condition=truth(), resolution=20)
    assert labels(fig) == {"C [pF]", "gL [nS]"}
    diag_c = visible(fig)[0]
    x, density = diag_c.lines[0].get_xydata().T
    assert density.sum() == pytest.approx(1.0)
    # the conditional density of C given gL = 10 nS peaks near the true 200 pF
    assert abs(x[np.argmax(density)] - 200) < 30


def test_conditional_corrcoef_matrix_and_plot():
    inf = trained_snpe()
    matrix = inf.conditional_corrcoef(condition=truth(), resolution=30)
    assert matrix.shape == (2, 2)
    np.testing.assert_allclose(np.diag(matrix), 1)
    assert matrix[0, 1] == matrix[1, 0] and -1 <= matrix[0, 1] <= 1
    fig = inf.conditional_corrcoef(condition=truth(), resolution=30, plot=True)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["C [pF]", "gL [nS]"]
    assert f"{matrix[0, 1]:.2f}" in [t.get_text() for t in ax.texts]


def test_conditional_corrcoef_recovers_a_known_correlation():
    """A Gaussian posterior with correlation 0.6 on the unit box gives 0.6 back."""
    import torch

    inf = trained_snpe()
    cov = torch.tensor([[0.01, 0.006], [0.006, 0.01]])
    gauss = torch.distributions.MultivariateNormal(torch.tensor([0.5, 0.5]), cov)

    class Gaussian:
        def potential(self, theta):
            return gauss.log_prob(theta)

    centre = inf.space.lower + 0.5 * inf.space.width
    matrix = conditional_corrcoef(Gaussian(), inf.space, centre, resolution=80)
    assert matrix[0, 1] == pytest.approx(0.6, abs=0.02)


def test_condition_must_be_complete():
    inf = trained_snpe()
    with pytest.raises(ProblemError, match="missing"):
        inf.conditional_pairplot(condition={"C": 200 * pF})
    with pytest.raises(ProblemError, match="resolution"):
        inf.conditional_corrcoef(condition=truth(), resolution=1)


def test_pairplot_zoom_shows_the_prior_box_and_a_legend():
    from brian2modelfitting_sbi.posterior.plots import pairplot

    inf = trained_snpe()
    rng = np.random.default_rng(0)
    # samples in a small corner of the prior box (C in 50-400 pF, gL in 1-30 nS)
    samples = np.column_stack([rng.normal(200e-12, 5e-12, 500), rng.normal(10e-9, 0.5e-9, 500)])
    other = {"C": 230 * pF, "gL": 9 * nS}
    fig = pairplot(inf.space, samples, points=[truth(), other], point_labels=["truth", "MAP"],
                   zoom=True)
    diag_c, upper, diag_gl = visible(fig)
    lo, hi = diag_c.get_xlim()
    assert 150 < lo < 200 < 230 < hi < 260   # around the samples, stretched to the MAP
    assert 1 < diag_gl.get_xlim()[0] < 10 < diag_gl.get_xlim()[1] < 30
    assert diag_c.get_title() == "prior [50, 400] pF"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["truth", "MAP"]
    # one marker per point, each in its own style
    assert [line.get_marker() for line in upper.lines if line.get_marker() != "None"] == ["o", "s"]
    # without zoom the axes keep the prior bounds and nothing is titled
    plain = pairplot(inf.space, samples, points=truth())
    assert visible(plain)[0].get_xlim() == pytest.approx((50, 400))
    assert visible(plain)[0].get_title() == "" and not plain.legends
    with pytest.raises(ProblemError, match="point_labels"):
        pairplot(inf.space, samples, points=truth(), point_labels=["truth", "MAP"])
    with pytest.raises(ProblemError, match="zoom"):
        pairplot(inf.space, samples, zoom="yes")


def test_correlation_plot_is_readable():
    from brian2modelfitting_sbi.posterior.conditional_plots import correlation_plot

    inf = trained_snpe()
    fig = correlation_plot(inf.space, np.array([[1.0, 0.9], [0.9, 1.0]]))
    texts = fig.axes[0].texts
    assert [t.get_text() for t in texts] == ["0.90", "0.90"]   # diagonal left blank
    assert {t.get_color() for t in texts} == {"white"}          # legible on dark cells
    weak = correlation_plot(inf.space, np.array([[1.0, np.nan], [0.1, 1.0]]))
    assert [t.get_text() for t in weak.axes[0].texts] == ["n/a", "0.10"]
    with pytest.raises(ProblemError, match="matrix"):
        correlation_plot(inf.space, np.eye(3))


def test_inferencer_pairplot_takes_the_zoom_options():
    inf = trained_snpe()
    fig = inf.pairplot(n_draws=200, points=truth(), point_labels=["truth"], zoom=True)
    assert visible(fig)[0].get_title() == "prior [50, 400] pF"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["truth"]
