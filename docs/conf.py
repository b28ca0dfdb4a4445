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

# Short module references such as :mod:`.conv` in the bench package's docstrings match both
# cs231n_fast.ops.conv and cs231n_fast.reference.conv; the first is linked, without a warning.
suppress_warnings = ["ref.python"]

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


# --- the course's docstring style --------------------------------------------------------------
# The course's files document arguments as "Inputs:" / "Returns a tuple of:" followed by "- x:
# ..." lists, often without the blank lines reStructuredText wants around a list (and around a
# nested one). Insert them before numpydoc and docutils see the docstring, so a course module
# renders (and the -W build passes) without rewriting its docstrings.


def _is_item(text):
    return text.startswith("- ")


def course_lists(lines):
    """``lines`` (a docstring, dedented) with blank lines around ``- item`` lists."""
    out, stack = [], []  # stack: indents of the open lists

    def blank():
        if out and out[-1].strip():
            out.append("")

    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if not text:
            stack = []
        elif _is_item(text):
            if not stack or indent > stack[-1]:
                blank()  # a list starts, or a nested one
                stack.append(indent)
            elif indent < stack[-1]:
                while stack and stack[-1] > indent:
                    stack.pop()
                blank()  # a nested list ends
                if not stack or stack[-1] != indent:
                    stack.append(indent)
        elif stack and indent < stack[-1] + 2:  # text that does not continue the last item
            while stack and indent < stack[-1] + 2:
                stack.pop()
            blank()
        out.append(line)
    return out


def _course_lists(app, what, name, obj, options, lines):
    lines[:] = course_lists(lines)


def setup(app):
    # Before numpydoc's own handler (priority 500).
    app.connect("autodoc-process-docstring", _course_lists, priority=400)
