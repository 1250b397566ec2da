"""Sphinx extension: document the public names of a module, each exactly once.

``.. public-api:: brian2modelfitting_sbi.results`` expands to an ``automodule`` of that module
with an explicit member list, so that new public names appear in the reference without
editing it:

* a package with ``__all__`` (``brian2modelfitting_sbi``, ``.features``, ``.simulation``,
  ``.backends``) documents the names of its ``__all__`` (under the import path users write,
  e.g. ``brian2modelfitting_sbi.features.EphysFeatures``; autodoc adds the defining module's
  name as canonical, so references to either resolve);
* any other module documents its public classes and functions defined there;
* every module documents its public data that carry a ``#:`` doc comment there;
* a class or function that an enclosing package exports is documented with that package
  only.

Options: ``:inherited: Name, ...`` documents those classes with their inherited members
(the Inferencer's workflow methods); ``:exclude: Name, ...`` leaves names out.

``.. tutorial-output:: NOTEBOOK MARKER`` inserts the HTML output of the first code cell of a
committed notebook (path relative to the repository root) whose source contains ``MARKER``,
e.g. the comparison table of tutorial 02, so that the docs quote it without retyping it.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]


def _names_option(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _is_code(obj: Any) -> bool:
    return inspect.isclass(obj) or inspect.isroutine(obj)


def _exported_by_parents(name: str) -> set[int]:
    """Ids of the classes and functions that packages enclosing ``name`` export."""
    ids: set[int] = set()
    parts = name.split(".")
    for k in range(1, len(parts)):
        parent = importlib.import_module(".".join(parts[:k]))
        for attr in getattr(parent, "__all__", []):
            obj = getattr(parent, attr)
            if _is_code(obj):
                ids.add(id(obj))
    return ids


def _documented_data(module: ModuleType) -> list[str]:
    """Public module-level variables with a ``#:`` doc comment in the module's source."""
    try:
        docs = ModuleAnalyzer.for_module(module.__name__).find_attr_docs()
    except Exception:  # noqa: BLE001 - no source: nothing to add
        return []
    return [attr for (scope, attr) in docs if scope == "" and not attr.startswith("_")]


def public_members(name: str) -> list[str]:
    """The names ``.. public-api:: name`` documents, in source order where known.

    Classes and functions: those of ``__all__`` for a package, else those defined in the
    module; data: those with a doc comment in the module itself (data re-exported by a
    package are documented where they are defined, with their comment).
    """
    module = importlib.import_module(name)
    parents = _exported_by_parents(name)
    if hasattr(module, "__all__"):
        code = [a for a in module.__all__ if _is_code(getattr(module, a))]
    else:
        code = [
            attr
            for attr, obj in vars(module).items()
            if not attr.startswith("_")
            and _is_code(obj)
            and getattr(obj, "__module__", None) == name
        ]
    members = [a for a in code if id(getattr(module, a)) not in parents]
    return members + [a for a in _documented_data(module) if a not in members]


class PublicAPI(SphinxDirective):
    """``.. public-api:: module`` (see the module docstring)."""

    required_arguments = 1
    option_spec = {"inherited": directives.unchanged, "exclude": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        inherited = _names_option(self.options.get("inherited"))
        exclude = set(_names_option(self.options.get("exclude"))) | set(inherited)
        members = [m for m in public_members(name) if m not in exclude]
        lines = [f".. automodule:: {name}"]
        if members:
            lines.append(f"   :members: {', '.join(members)}")
        lines.append("")
        for cls in inherited:
            lines += [f".. autoclass:: {name}.{cls}", "   :members:", "   :inherited-members:",
                      ""]
        self.env.note_dependency(importlib.import_module(name).__file__)
        return self.parse_text_to_nodes("\n".join(lines))


class TutorialOutput(SphinxDirective):
    """``.. tutorial-output:: tutorials/NOTEBOOK.ipynb MARKER`` (see the module docstring)."""

    required_arguments = 2
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        path = ROOT / self.arguments[0]
        marker = self.arguments[1]
        self.env.note_dependency(str(path))
        html = _first_html(json.loads(path.read_text()), marker)
        if html is None:
            para = nodes.paragraph(
                text=f"(No output in {self.arguments[0]} yet: execute the notebook with "
                f"python tutorials/execute.py --save.)"
            )
            return [para]
        return [nodes.raw("", html, format="html")]


def _first_html(nb: dict[str, Any], marker: str) -> str | None:
    for cell in nb.get("cells", []):
        source = "".join(cell.get("source", []))
        if cell.get("cell_type") != "code" or marker not in source:
            continue
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html:
                return "".join(html)
    return None


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives."""
    app.add_directive("public-api", PublicAPI)
    app.add_directive("tutorial-output", TutorialOutput)
    return {"parallel_read_safe": True, "version": "1"}
