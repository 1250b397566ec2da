"""Optional dependencies: a clear error when one cannot be imported, the core unaffected."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import fitter_args
from workflow_support import passive_args

from brian2modelfitting_sbi import Inferencer
from brian2modelfitting_sbi._optional import OptionalDependencyError, available, require


def test_require_imports_an_available_module():
    assert require("numpy.linalg", "a test").__name__ == "numpy.linalg"
    assert available("numpy")


def test_missing_package_names_the_feature_the_extra_and_the_limits():
    with pytest.raises(OptionalDependencyError) as err:
        require("brian2modelfitting_sbi_no_such_package", "a test feature")
    assert "a test feature needs brian2modelfitting_sbi_no_such_package" in str(err.value)
    assert "not installed" in str(err.value)
    assert isinstance(err.value, ImportError)
    assert not available("brian2modelfitting_sbi_no_such_package")


def test_package_broken_by_numpy_says_so(monkeypatch):
    import brian2modelfitting_sbi._optional as optional

    def broken(name):
        raise ImportError("cannot import name 'NaN' from 'numpy'")

    monkeypatch.setattr(optional.importlib, "import_module", broken)
    monkeypatch.setattr(optional, "_is_installed", lambda top: True)
    with pytest.raises(OptionalDependencyError) as err:
        require("brian2modelfitting.metric", "a brian2modelfitting metric as features")
    text = str(err.value)
    assert "installed but fails to import here (numpy" in text
    assert "NaN" in text and "[fitters]" in text and "numpy < 1.24" in text


def test_fitter_parts_fail_clearly_without_brian2modelfitting(monkeypatch):
    """from_fitter, metric features and the fitter comparison, with the package hidden."""
    for name in [m for m in sys.modules if m.split(".")[0] in ("brian2modelfitting", "nevergrad")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "brian2modelfitting", None)  # import raises ImportError
    from brian2modelfitting_sbi.compare import compare_fit_and_inference
    from brian2modelfitting_sbi.features import metric_provider

    with pytest.raises(OptionalDependencyError, match="Inferencer.from_fitter needs brian2mod"):
        Inferencer.from_fitter(object())
    with pytest.raises(OptionalDependencyError, match="metric as features needs brian2mod"):
        metric_provider(object())
    with pytest.raises(OptionalDependencyError, match="compare_fit_and_inference needs brian2"):
        compare_fit_and_inference({}, n_simulations=10, features=None)
    # the rest is unaffected: an Inferencer builds and features resolve without it
    inferencer = Inferencer(**fitter_args(passive_args()), features=[lambda v: v.mean()])
    assert inferencer.problem.n_traces == 2


def test_core_import_does_not_import_brian2modelfitting():
    code = (
        "import sys, brian2modelfitting_sbi, brian2modelfitting_sbi.features, "
        "brian2modelfitting_sbi.compare, brian2modelfitting_sbi.interop; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('brian2modelfitting', 'nevergrad')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
