"""The README's example runs as written (at a reduced number of simulations and epochs)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.figure
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def example_code() -> str:
    """The first ```python block after the '## Example' heading."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Example"):]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README: no python block in the Example section"
    return match.group(1)


def test_readme_example_runs(monkeypatch):
    import brian2modelfitting_sbi.backends.defaults as defaults

    code = example_code()
    # smaller sizes only: every other character of the example runs as written
    for big, small in [
        ("n_samples=2000", "n_samples=60"),
        ("sample(10_000)", "sample(500)"),
        ("trust_report()", "trust_report(n_predictive=40, n_local=20, n_draws=200)"),
    ]:
        assert big in code, f"README example no longer contains {big!r}: update this test"
        code = code.replace(big, small)
    monkeypatch.setattr(defaults, "default_max_epochs", lambda n: 5)
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README

    inferencer = namespace["inferencer"]
    assert inferencer.problem.param_init["v"] == "El"
    assert set(namespace["samples"]) == {"g_na", "g_kd"}
    assert namespace["samples"]["g_na"].shape == (500,)
    assert set(namespace["inferencer"].best_params) == {"g_na", "g_kd"}
    assert isinstance(namespace["fig"], matplotlib.figure.Figure)
    traces = namespace["traces"]["v"]
    assert traces.shape == (20, *namespace["recordings"].shape)
    assert len(inferencer.feature_names) == 4 * 2
    with pytest.raises(KeyError):
        namespace["traces"]["spikes"]
