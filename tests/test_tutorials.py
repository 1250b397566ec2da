"""The tutorial notebooks run top to bottom at a small scale; the demo completes; the docs
reference every module.

Each notebook runs in a fresh kernel of this Python (``tutorials/execute.py``) with
``B2MF_SBI_SCALE`` small and Brian's numpy target (nothing to compile, so the time does not
depend on the compilation cache); an extra cell appended for the test asserts on the
notebook's own variables.
"""

from __future__ import annotations

import importlib.util
import json
import pkgutil
import re
from pathlib import Path

import numpy as np
import pytest
from brian2 import mV

import brian2modelfitting_sbi
from brian2modelfitting_sbi import demo
from brian2modelfitting_sbi.compare import compare_fit_and_inference, split_budget, trace_mse
from brian2modelfitting_sbi.datasets import load_hh_recording
from brian2modelfitting_sbi.problem import ProblemError

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
SCALE = 0.01

_spec = importlib.util.spec_from_file_location("tutorials_execute", TUTORIALS / "execute.py")
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)

#: Assertions run in each notebook's kernel after its last cell.
CHECKS = {
    "01_quickstart": """
assert summary.names == ["g_kd", "g_na"], summary.names
assert inferencer.n_simulations == n_simulations == 200
assert {"truth", "MAP", "truth in 90% interval"} <= set(table.columns)
assert set(inferencer.best_params) == {"g_kd", "g_na"}
""",
    "02_fitter_vs_inferencer": """
methods = ["TraceFitter + DE", "TraceFitter + DE + refine()",
           "Inferencer + SNPE, 1 round (MAP)", "Inferencer + SNPE, 2 rounds (MAP)"]
assert list(table.index) == methods, list(table.index)
assert per_seed.shape[0] == 4 * len(seeds) == 12
for name in ("g_na", "g_kd"):
    assert {f"{name} [uS]", f"{name} error [%]", f"{name} 90% interval"} <= set(per_seed.columns)
assert {"trace MSE [mV^2]", "wall time [s]", "simulations"} <= set(per_seed.columns)
assert (per_seed.loc["TraceFitter + DE", "simulations"] == n_simulations).all()
assert (per_seed.loc["Inferencer + SNPE, 1 round (MAP)", "simulations"] == n_simulations).all()
assert (per_seed["trace MSE [mV^2]"] > 0).all() and (per_seed["wall time [s]"] > 0).all()
assert (per_seed.loc["TraceFitter + DE", "g_na 90% interval"] == "n/a").all()
assert table.loc["TraceFitter + DE", "truth in 90% interval"] == "n/a"
""",
    "03_four_parameters": """
assert sorted(final.space.names) == ["Cm", "g_kd", "g_na", "gl"]
assert list(ladder.index) == ["quickstart recipe", *remedies], list(ladder.index)
assert {f"{name} in 90%" for name in truth} <= set(ladder.columns)
assert ladder["time [s]"].gt(0).all() and len(inferencers) == 7
assert len(final.rounds) == 1 and len(inferencers["2 rounds of 3,000, NSF"].rounds) == 2
assert final.measurement is not None and failed.measurement is None
assert failed_report.verdict in {"trustworthy", "doubtful", "do not trust"}
assert list(final_table.index) == final.space.names
assert final_table["5%"].lt(final_table["95%"]).all()
assert list(spike_table.index) == steps and spike_table["recorded spikes"].gt(0).all()
""",
    "04_spikes": """
assert set(inferencers) == {"GammaFactor", "EphysFeatures", "both"}
assert len(results) == 9
assert all(inf.problem.has_spikes for inf in inferencers.values())
assert len(spikes) == 5 and all(len(train) > 0 for train in spikes)
assert calibration.summary
assert list(sbc.index) == names and {"KS p", "90% coverage", "reading"} <= set(sbc.columns)
assert sbc["90% coverage"].between(0, 1).all()
""",
    "05_scaling_out": """
assert np.array_equal(x_pool, x_serial) and np.array_equal(x_dask, x_serial)
assert np.array_equal(theta, theta_serial) and np.array_equal(x, x_serial)
assert len(list(store.glob("round_001/chunk_*.npz"))) == 8
assert set(timings) == {"serial", "n_jobs=2", "Dask, 2 workers"}
""",
}


def test_every_notebook_has_a_check() -> None:
    assert sorted(p.stem for p in execute.notebooks()) == sorted(CHECKS)


#: The notebook the default tier executes (small and quick); the others are in the slow tier.
QUICK = "01_quickstart"


@pytest.mark.parametrize(
    "name",
    [n if n == QUICK else pytest.param(n, marks=pytest.mark.slow) for n in sorted(CHECKS)],
)
def test_notebook_runs(name: str) -> None:
    nb, _ = execute.execute(
        TUTORIALS / f"{name}.ipynb", SCALE, timeout=300, extra_cells=[CHECKS[name]],
        target="numpy",
    )
    assert execute.error_outputs(nb) == []
    assert all(c.get("outputs") is not None for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_committed_notebook_has_outputs(name: str) -> None:
    """Committed with outputs from one clean top-to-bottom run, figures included, small."""
    path = TUTORIALS / f"{name}.ipynb"
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{name}: not run top to bottom: {counts}"
    outputs = [o for c in code for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{name}: no figure"
    assert path.stat().st_size < 600_000, f"{name}: {path.stat().st_size} bytes"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


def test_demo_prints_summary_and_writes_figures(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("B2MF_SBI_SCALE", str(SCALE))
    demo.main(["--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "SNPE on 200 simulations" in out
    assert "Posterior summary" in out and "g_na" in out and "g_kd" in out
    assert re.search(r"g_na .* uS .*credible interval", out), out
    for figure in ("pairplot.png", "predictive.png"):
        assert (tmp_path / figure).stat().st_size > 5_000


def test_api_reference_lists_every_public_module() -> None:
    """docs/api.rst has a ``public-api`` entry for each module without a leading underscore."""
    listed = set(re.findall(r"^\.\. public-api:: (\S+)$", (ROOT / "docs" / "api.rst").read_text(),
                            flags=re.MULTILINE))
    package = brian2modelfitting_sbi
    modules = {package.__name__} | {
        info.name
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        if not any(part.startswith("_") for part in info.name.split("."))
    }
    assert modules - listed == set(), "add these modules to docs/api.rst"
    assert listed - modules == set(), "docs/api.rst lists modules that do not exist"


def test_split_budget() -> None:
    assert split_budget(4000) == (200, 20)
    assert split_budget(200) == (40, 5)
    assert split_budget(1000, popsize=30) == (30, 33)
    with pytest.raises(ProblemError, match="popsize"):
        split_budget(100, popsize=1)
    with pytest.raises(ProblemError, match="n_simulations"):
        split_budget(10, popsize=40)


def test_trace_mse_is_in_mv2() -> None:
    assert trace_mse(np.full((2, 3), -63.0) * mV, np.full((2, 3), -65.0) * mV) == pytest.approx(4.0)


def test_comparison_refuses_mistakes_before_fitting() -> None:
    data = load_hh_recording()
    with pytest.raises(ProblemError, match=r"missing keys \['truth'\]"):
        compare_fit_and_inference({k: v for k, v in data.items() if k != "truth"}, 200, None)
    with pytest.raises(ProblemError, match="n_rounds"):
        compare_fit_and_inference(data, 200, demo.FEATURES, n_rounds=(1, 1))
    with pytest.raises(ProblemError, match="features"):
        compare_fit_and_inference(data, 200, "spike_count")
