"""The benchmark's table, as a reStructuredText simple table (readable in a terminal too).

Calibration columns: smallest SBC rank-uniformity p-value over the parameters and TARP's
area to curve; ``!`` marks a failed check (SBC p below 0.05/3, TARP KS p below 0.05).
"""

from __future__ import annotations

import datetime
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

BEGIN = ".. begin-validation-results"
END = ".. end-validation-results"


def _mean(rows: list[Any], attr: str) -> float:
    return float(np.mean([getattr(r, attr) for r in rows]))


def _pair(ours: float, sbi: float, fmt: str) -> str:
    return f"{fmt.format(ours)} / {fmt.format(sbi)}"


def _ratio(ours: float, sbi: float) -> str:
    return f"{sbi / ours:.1f}x" if ours > 0 else "-"


def _first_calibration(rows: list[Any]) -> dict | None:
    cal = [r.calibration for r in rows if r.calibration]
    return cal[0] if cal else None


def _sbc(rows: list[Any]) -> str:
    c = _first_calibration(rows)
    if c is None:
        return "-"
    return f"{c['sbc_ks_pvalue']:.2f}{'' if c['sbc_ks_pvalue'] > 0.05 / 3 else '!'}"


def _tarp(rows: list[Any]) -> str:
    c = _first_calibration(rows)
    if c is None:
        return "-"
    return f"{c['tarp_atc']:+.3f}{'' if c['tarp_ks_pvalue'] > 0.05 else '!'}"


def table_rows(rows: list[Any]) -> list[list[str]]:
    """One line per (simulations, backend): ours / sbi side by side, means over repeats."""
    groups: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        groups[(r.n, r.backend)][r.setting].append(r)
    out = []
    for (n, backend), by_setting in groups.items():
        ours = by_setting.get("ours") or by_setting.get("try", [])
        sbi = by_setting.get("sbi", [])
        if not ours or not sbi:
            only = ours or sbi
            ours = sbi = only
        train = (_mean(ours, "train_s"), _mean(sbi, "train_s"))
        sample = (_mean(ours, "sample_s"), _mean(sbi, "sample_s"))
        out.append([
            f"{n:,}",
            backend,
            f"{ours[0].simulate_s:.1f}",
            _pair(*train, "{:.1f}"),
            _ratio(*train),
            _pair(_mean(ours, "epochs"), _mean(sbi, "epochs"), "{:.0f}"),
            _pair(*sample, "{:.2f}"),
            _ratio(*sample),
            ours[0].sampler,
            _pair(_mean(ours, "c2st"), _mean(sbi, "c2st"), "{:.3f}"),
            f"{_sbc(ours)} / {_sbc(sbi)}",
            f"{_tarp(ours)} / {_tarp(sbi)}",
        ])
    return out


HEADER = [
    "sims",
    "backend",
    "sim s",
    "train s ours / sbi",
    "faster",
    "epochs ours / sbi",
    "1000 samples s ours / sbi",
    "faster",
    "our sampler",
    "C2ST ours / sbi",
    "SBC p ours / sbi",
    "TARP atc ours / sbi",
]


def format_table(rows: list[Any]) -> str:
    """An RST simple table of the results."""
    body = table_rows(rows)
    widths = [max(len(h), *(len(line[j]) for line in body)) for j, h in enumerate(HEADER)]
    rule = "  ".join("=" * w for w in widths)

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([rule, line(HEADER), rule, *(line(b) for b in body), rule])


def write_docs(path: Path, table: str, args: dict[str, Any], note: str = "") -> None:
    """Replace the results block of ``path`` (between the markers) with ``table``.

    ``args`` are the benchmark's command-line settings (as saved in its JSON); ``note`` is
    added under the heading line.
    """
    text = path.read_text() if path.exists() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    sizes = " ".join(map(str, args["sizes"]))
    block = (
        f"{BEGIN}\n\n"
        f"Generated {datetime.date.today().isoformat()} from ``python -m benchmarks.validation "
        f"--sizes {sizes} --repeats {args['repeats']} --calibrate {args['calibrate']}`` "
        f"(one torch thread, Brian 2 target ``{args['target']}``, {os.cpu_count()} cores). "
        f"Times are CPU seconds of the benchmark process, means over the repeats."
        f"{' ' + note if note else ''}\n\n{table}\n\n{END}"
    )
    path.write_text(head + block + tail)
