"""The memory a process needs before it simulates or trains anything: the stack's floor.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_import_floor.py [--json out.json]

Each line runs in a fresh Python process and reports its resident set size (``VmRSS``) after
each step, so the steps' costs add up within a line: the imports an inference needs (Brian 2,
torch, ``sbi.inference``), this package, numba (the feature library's kernels), and the first
use of torch (a small network and 20 optimizer steps on 10,000 x 28 random rows, the size of
brian2modelfitting's HH example). The upstream example's goal of a third of 1.23 GB (410 MB)
is to be read against the first line's total. The second line replaces this package by
brian2modelfitting (0.4, the registry's; it needs numpy < 1.24 and is skipped without it): an
estimate of the floor under upstream's own 1.23 GB, with this sbi instead of its 0.22.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

STEPS = {
    "brian2": "import brian2",
    "torch": "import torch",
    "sbi.inference": "import sbi.inference",
    "brian2modelfitting_sbi": "import brian2modelfitting_sbi",
    "numba": "import numba",
    "brian2modelfitting": "import brian2modelfitting",
    "torch first use": """
        import torch
        net = torch.nn.Sequential(torch.nn.Linear(28, 50), torch.nn.Tanh(), torch.nn.Linear(50, 4))
        opt = torch.optim.Adam(net.parameters())
        x, y = torch.randn(10_000, 28), torch.randn(10_000, 4)
        for b in range(0, 4_000, 200):
            opt.zero_grad(); ((net(x[b:b + 200]) - y[b:b + 200]) ** 2).mean().backward(); opt.step()
    """,
}
LINES = [
    ["brian2", "torch", "sbi.inference", "brian2modelfitting_sbi", "torch first use"],
    # an estimate of the floor under upstream's Inferencer (which needs sbi 0.22, not this sbi)
    ["brian2", "torch", "sbi.inference", "brian2modelfitting", "torch first use"],
    ["brian2", "torch", "sbi.inference", "brian2modelfitting_sbi", "numba"],
    ["torch", "torch first use"],
    ["brian2"],
]
CHILD = """
import json, warnings
warnings.simplefilter("ignore")
def rss():
    with open("/proc/self/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0]) / 1024
out = [["start", rss()]]
"""


def run(line: list[str]) -> list[tuple[str, float]]:
    """(step, RSS in MB after it) for the steps of ``line``, in one fresh process."""
    code = CHILD
    for step in line:
        code += textwrap.dedent(STEPS[step]).strip() + f"\nout.append([{step!r}, rss()])\n"
    code += "print(json.dumps(out))\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    return [tuple(row) for row in json.loads(done.stdout.strip().splitlines()[-1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    results = []
    for line in LINES:
        try:
            rows = run(line)
        except subprocess.CalledProcessError as failed:
            print(f"{' + '.join(line)}: did not import ({failed.stderr.strip().splitlines()[-1]})")
            continue
        results.append(rows)
        steps = ", ".join(
            f"{name} {mb:.0f} (+{mb - rows[k][1]:.0f})" for k, (name, mb) in enumerate(rows[1:])
        )
        print(f"start {rows[0][1]:.0f} MB; {steps}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
