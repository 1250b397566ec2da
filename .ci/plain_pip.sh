#!/usr/bin/env bash
# Second environment: what a user gets from plain `pip install .` in a fresh venv, with only
# torch pinned (to the local CPU wheel, so that nothing multi-GB is downloaded). No
# constraints file: pip resolves numpy, Brian 2 and sbi from the package's own metadata (numpy 2
# on Python 3.11 today). Then the README example and the core tests, against the installed copy.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/plain-pip.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ENV=$WORK/venv
# Tests that need no optional extra, and those of the [nwb]/[neo] extras; the [fitters] modules (test_workflow_interop,
# test_features_metrics) skip themselves when brian2modelfitting is absent and are run too.
CORE_TESTS=(
    test_optional.py test_recordings_common.py test_foundation_errors.py test_foundation_registry.py
    test_foundation_scaling.py test_foundation_spikes.py test_features_callables.py
    test_features_raw.py test_simulation_engine.py test_simulation_invalid.py
    test_workflow_results.py test_workflow_io.py test_workflow_interop.py
    test_features_metrics.py test_recordings_nwb.py test_recordings_neo.py
)

t0=$SECONDS
unset PYTHONPATH
"$PYTHON" -m venv "$ENV"
"$ENV/bin/python" -m pip install --quiet torch==2.13.0
t1=$SECONDS
"$ENV/bin/python" -m pip install --quiet "$ROOT"
t2=$SECONDS
"$ENV/bin/python" -m pip install --quiet pytest pytest-timeout
echo "plain pip: venv + torch $((t1 - t0)) s, pip install . $((t2 - t1)) s"
"$ENV/bin/python" -m pip list 2>/dev/null | grep -iE '^(numpy|brian2|sbi|torch|scipy|pandas|brian2modelfitting) '

cd "$WORK"   # import the installed package, not the source tree
"$ENV/bin/python" -c "import brian2modelfitting_sbi as m, numpy; print('imports', m.__file__, 'numpy', numpy.__version__)"
"$ENV/bin/python" "$ROOT/.ci/readme_example.py" "$ROOT/README.md"
# the recording extras resolve and work on numpy 2 too
t3=$SECONDS
"$ENV/bin/python" -m pip install --quiet "$ROOT[nwb,neo]"
echo "plain pip: pip install '.[nwb,neo]' $((SECONDS - t3)) s"
"$ENV/bin/python" -m pip list 2>/dev/null | grep -iE '^(pynwb|hdmf|h5py|neo|numpy) '
# pytest's own script (not `python -m pytest`, which would put the cwd first on sys.path);
# tests/ is on sys.path for conftest and workflow_support only.
(cd "$ROOT/tests" && "$ENV/bin/pytest" -q -p no:cacheprovider --rootdir="$ROOT" \
    -c "$ROOT/pyproject.toml" "${CORE_TESTS[@]}")
echo "plain pip: total $((SECONDS - t0)) s"
