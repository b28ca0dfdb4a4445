"""Sphinx configuration of the cs231n_fast documentation.

Build (from the repository root, with the package and the ``docs`` extra installed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html      # the site
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest  # run its examples

The API pages are generated from the docstrings (numpydoc style) of the installed package:
``api.rst`` lists the modules, one line each.
"""

import cs231n_fast

project = "cs231n_fast"
author = "The cs231n_fast contributors"
copyright = "2026, The cs231n_fast contributors"
release = cs231n_fast.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
root_doc = "index"

# --- API pages -------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc "Parameters" sections say it
# numpydoc renders the sections; class member tables would need a stub page per method.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# --- examples --------------------------------------------------------------------------------
# Every ``>>>`` block of the guide and of the docstrings on the API pages runs with
# ``-b doctest``; ``# doctest: +SKIP`` marks the few that need data or minutes.
doctest_global_setup = """
import numpy as np
"""
doctest_test_doctest_blocks = "default"

# --- output ----------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"cs231n_fast {release}"
html_theme_options = {
    "description": "Fast, tested Cython + OpenMP kernels for CS231n in NumPy",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_static_path = []
