"""The entry-point registry: built-ins, a third-party plugin, broken and duplicate plugins."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest
from conftest import fitter_args, window_features

from brian2modelfitting_sbi import Inferencer, get_backend, list_backends, refresh_backends
from brian2modelfitting_sbi.backends import GROUP, UnknownBackendError
from brian2modelfitting_sbi.backends.snle import SNLEBackend
from brian2modelfitting_sbi.backends.snpe import SNPEBackend
from brian2modelfitting_sbi.backends.snre import SNREBackend
from brian2modelfitting_sbi.errors import SavedFileError

# A complete third-party backend: rejection ABC keeping the simulations closest to x_o.
PLUGIN = '''
import torch
from brian2modelfitting_sbi.backends import InferenceBackend


class NearestPosterior:
    def __init__(self, theta):
        self.theta = theta

    def sample(self, shape, show_progress_bars=False, **kwargs):
        idx = torch.randint(len(self.theta), tuple(shape))
        return self.theta[idx]


class ABCBackend(InferenceBackend):
    """Rejection ABC: the 5% of simulations nearest to the observation.

    More text that is not part of the one-line description.
    """

    def append_simulations(self, theta, x, proposal=None):
        self.theta, self.x = theta, x

    def train(self):
        self.mean, self.std = self.x.mean(0), self.x.std(0)

    def build_posterior(self, x_o):
        dist = (((self.x - x_o) / self.std) ** 2).sum(1)
        keep = dist.argsort()[: max(1, len(dist) // 20)]
        return NearestPosterior(self.theta[keep])
'''


def _distribution(tmp_path, name, entry_points, module=None, source=None):
    """Install a minimal distribution (a .dist-info folder) into tmp_path."""
    info = tmp_path / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{lines}\n")
    if module:
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("toy_")]:
        del sys.modules[mod]
    monkeypatch.undo()
    refresh_backends()


def test_builtins_are_registered_with_descriptions():
    backends = list_backends()
    assert {"snpe", "snle", "snre"} <= set(backends)
    for key, cls in [("snpe", SNPEBackend), ("snle", SNLEBackend), ("snre", SNREBackend)]:
        assert backends[key].available
        assert backends[key].distribution == "brian2modelfitting-sbi"
        assert backends[key].description and "\n" not in backends[key].description
        assert get_backend(key) is cls


def test_lookup_is_case_insensitive():
    assert get_backend("SNPE") is SNPEBackend
    assert get_backend("SnRe") is SNREBackend


def test_backend_class_passes_through():
    assert get_backend(SNLEBackend) is SNLEBackend


def test_unknown_name_lists_installed():
    # this package's entry points, sorted (other plugins' names may come in between)
    ours = ["bnre", "fmpe", "mnle", "npse", "nre_b", "nre_c", "snle", "snpe", "snre"]
    listed = r"'nope'.*installed backends: " + r", (.*, )?".join(ours)
    with pytest.raises(UnknownBackendError, match=listed):
        get_backend("nope")


def test_builtins_wrap_current_sbi_trainers():
    assert SNPEBackend.trainer_name == "NPE_C"
    assert SNLEBackend.trainer_name == "NLE_A"
    assert SNREBackend.trainer_name == "NRE_B"


def test_third_party_backend_used_by_inferencer(plugin_path, passive):
    _distribution(plugin_path, "toy-abc", {"toy_abc": "toy_abc_mod:ABCBackend"},
                  "toy_abc_mod", PLUGIN)
    refresh_backends()
    info = list_backends()["toy_abc"]
    assert info.available and info.distribution == "toy-abc"
    assert info.description == "Rejection ABC: the 5% of simulations nearest to the observation."
    inf = Inferencer(**fitter_args(passive), features=window_features())
    inf.infer(400, backend="TOY_ABC", seed=1, progress=False, **passive["bounds"])
    assert type(inf.backend).__name__ == "ABCBackend"
    samples = inf.sample(200, seed=0)
    lo, hi = passive["bounds"]["gL"]
    # ABC on 400 simulations is coarse, but it must move towards the truth (10 nS).
    assert abs(float(np.mean(samples["gL"])) - 10e-9) < 0.25 * (float(hi) - float(lo))
    # saving asks the backend for its state; this one declares none, and is told so
    with pytest.raises(SavedFileError, match="ABCBackend does not support saving"):
        inf.save(plugin_path / "abc.zip")


def test_broken_plugin_is_reported_without_breaking_others(plugin_path):
    _distribution(plugin_path, "toy-broken", {"toy_broken": "toy_broken_mod:Missing"},
                  "toy_broken_mod", "raise ImportError('needs a GPU library')\n")
    refresh_backends()
    backends = list_backends()
    assert not backends["toy_broken"].available
    assert "needs a GPU library" in backends["toy_broken"].error
    assert backends["snpe"].available
    with pytest.raises(UnknownBackendError, match="installed .* but failed to import"):
        get_backend("toy_broken")
    assert get_backend("snpe") is SNPEBackend


def test_duplicate_name_warns(plugin_path):
    _distribution(plugin_path, "toy-dup", {"snpe": "toy_dup_mod:Other"}, "toy_dup_mod",
                  "class Other:\n    description = 'other'\n")
    refresh_backends()
    with pytest.warns(RuntimeWarning, match="'snpe' is registered twice"):
        list_backends()
