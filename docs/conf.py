"""Sphinx configuration of the brian2modelfitting-sbi documentation."""

project = "brian2modelfitting-sbi"
author = "brian2modelfitting-sbi developers"
copyright = "2026, brian2modelfitting-sbi developers"  # noqa: A001 - Sphinx's name

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
html_theme = "pydata_sphinx_theme"
html_title = project
exclude_patterns = ["_build"]
# No network here: cross-references to other projects are written as plain text.
intersphinx_mapping = {}
nitpicky = False
