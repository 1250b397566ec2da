"""Sphinx configuration of the brian2modelfitting-sbi documentation."""

import sys
from pathlib import Path

# docs/_ext/public_api.py: the API reference's ``public-api`` and ``tutorial-output`` directives
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "brian2modelfitting-sbi"
author = "brian2modelfitting-sbi developers"
copyright = "2026, brian2modelfitting-sbi developers"  # noqa: A001 - Sphinx's name

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "public_api",
]
autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"
# Module-level data (e.g. the FEATURES table) are documented by their comment, not their repr.
autodoc_default_options = {"no-value": True}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
html_theme = "pydata_sphinx_theme"
html_title = project
exclude_patterns = ["_build", "_ext"]
# No network here: cross-references to other projects are written as plain text.
intersphinx_mapping = {}
nitpicky = False
