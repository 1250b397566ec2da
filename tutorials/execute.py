"""Execute the tutorial notebooks, optionally saving them with their outputs.

    python tutorials/execute.py --save            # every notebook at scale 1, saved in place
    python tutorials/execute.py 02 --scale 0.05   # one notebook, small, not saved

Every notebook reads the environment variable ``B2MF_SBI_SCALE`` (default 1), which scales
its simulation budgets and training caps; the test suite (``tests/test_tutorials.py``) runs
them all at a small scale with the functions below. The kernel is the Python running this
script (a kernel spec made on the fly in a temporary folder), so the notebooks see the same
environment as the tests, whatever kernels Jupyter has installed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KERNEL_NAME = "b2mf-sbi-tutorials"
#: The kernel spec recorded in the saved notebooks (what readers' Jupyter will use).
STANDARD_KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"}


def notebooks() -> list[Path]:
    """The tutorial notebooks, in reading order."""
    return sorted(HERE.glob("[0-9][0-9]_*.ipynb"))


def make_kernel_spec(folder: Path, env: dict[str, str]) -> Path:
    """Write a kernel spec that starts ``sys.executable``'s ipykernel with ``env``.

    Returns the ``kernels`` folder to give to a ``KernelSpecManager``.
    """
    kernels = folder / "kernels"
    spec = kernels / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "brian2modelfitting-sbi tutorials",
        "language": "python",
        "env": env,
    }))
    return kernels


def execute(
    path: str | Path,
    scale: float = 1.0,
    *,
    timeout: int = 900,
    workdir: str | Path | None = None,
    extra_cells: list[str] | None = None,
    env: dict[str, str] | None = None,
    target: str | None = None,
) -> tuple[Any, float]:
    """Run a notebook top to bottom and return it with its outputs, and the wall time.

    Parameters
    ----------
    path : str or Path
        The notebook.
    scale : float
        Value of ``B2MF_SBI_SCALE`` in the kernel.
    timeout : int
        Seconds allowed per cell.
    workdir : str or Path, optional
        The kernel's working directory (default: a temporary one, removed afterwards).
    extra_cells : list of str, optional
        Code cells appended before running (e.g. a test's assertions on the notebook's
        variables); they are not part of the returned notebook.
    env : dict, optional
        More environment variables for the kernel.
    target : str, optional
        Brian 2 code generation target for the whole notebook (e.g. ``'numpy'``, which
        compiles nothing: faster for tiny runs on a cold cache), set through a
        ``brian_preferences`` file in the working directory.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell raises; the message shows the cell and the traceback.
    """
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(str(path), as_version=4)
    n_cells = len(nb.cells)
    for source in extra_cells or []:
        nb.cells.append(nbformat.v4.new_code_cell(source))
    kernel_env = {
        "B2MF_SBI_SCALE": repr(float(scale)),
        "OMP_NUM_THREADS": "1",
        # figures as PNG outputs, whatever MPLBACKEND the caller has (make exports Agg)
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        **(env or {}),
    }
    with tempfile.TemporaryDirectory(prefix="b2mf-sbi-nb-") as tmp:
        kernels = make_kernel_spec(Path(tmp), kernel_env)
        km = KernelManager(
            kernel_name=KERNEL_NAME,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
        )
        cwd = Path(workdir) if workdir is not None else Path(tmp) / "work"
        cwd.mkdir(parents=True, exist_ok=True)
        if target is not None:
            (cwd / "brian_preferences").write_text(f"codegen.target = {target!r}\n")
        client = NotebookClient(
            nb,
            km=km,
            timeout=timeout,
            record_timing=False,
            resources={"metadata": {"path": str(cwd)}},
        )
        t0 = time.perf_counter()
        client.execute(cleanup_kc=True)  # shut the kernel down (we own it), errors or not
        elapsed = time.perf_counter() - t0
    nb.cells = nb.cells[:n_cells]
    nb.metadata["kernelspec"] = dict(STANDARD_KERNELSPEC)
    return nb, elapsed


def error_outputs(nb: Any) -> list[str]:
    """``ename: evalue`` of every error output of the notebook."""
    return [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="B2MF_SBI_SCALE")
    parser.add_argument("--save", action="store_true", help="write the outputs in place")
    parser.add_argument("--target", default=None, help="Brian 2 codegen target (e.g. numpy)")
    args = parser.parse_args(argv)
    chosen = [p for p in notebooks() if not args.names
              or any(p.name.startswith(n) for n in args.names)]
    if not chosen:
        parser.error(f"no notebook matches {args.names}")
    for path in chosen:
        nb, elapsed = execute(path, args.scale, target=args.target)
        size = ""
        if args.save:
            nbformat.write(nb, str(path))
            size = f", {path.stat().st_size / 1e3:.0f} kB"
        print(f"{path.name}: {elapsed:.0f} s at scale {args.scale}{size}", flush=True)


if __name__ == "__main__":
    main()
