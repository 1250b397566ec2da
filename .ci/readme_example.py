"""Run the README's Python example as a user would paste it (``.ci/plain_pip.sh`` calls it).

Executes every ```python block of README.md in order, in one namespace, from a temporary
folder (so that the installed package is imported, not the source tree).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path


def blocks(readme: Path) -> list[str]:
    """The README's ```python blocks, in order."""
    return re.findall(r"^```python\n(.*?)^```", readme.read_text(), flags=re.M | re.S)


def main() -> None:
    readme = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md").resolve()
    code = blocks(readme)
    if not code:
        raise SystemExit(f"{readme}: no ```python block found")
    os.chdir(tempfile.mkdtemp(prefix="readme-example-"))
    namespace: dict = {"__name__": "__main__"}
    t0 = time.perf_counter()
    for k, block in enumerate(code):
        exec(compile(block, f"{readme.name}[python block {k + 1}]", "exec"), namespace)
    import brian2modelfitting_sbi

    print(f"README example: {len(code)} block(s) ran in {time.perf_counter() - t0:.1f} s "
          f"with {brian2modelfitting_sbi.__file__}")
    samples = namespace.get("samples")
    if samples is not None:
        print({name: (float(value.mean()), str(value.dim)) for name, value in samples.items()})


if __name__ == "__main__":
    main()
