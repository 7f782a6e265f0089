"""Sphinx configuration for the documentation site (`just docs` builds it into docs/_build)."""

from __future__ import annotations

project = "django-tasks-temporal"
author = "django-tasks-temporal developers"
copyright = "django-tasks-temporal developers"

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Links to headings (`page.md#a-heading`) are checked like any cross-reference; with
# `-n -W` a missing page or anchor fails the build.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence"]

html_theme = "furo"
html_title = "django-tasks-temporal"

# The build machines have no internet: `sphinx-build -b linkcheck` would report every
# external URL as broken, so external links are not checked (docs/development.md).
linkcheck_ignore = [r"https?://"]
