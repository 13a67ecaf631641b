"""Training text for the char-RNNs besides Shakespeare: any text file or folder, and the
Python standard library's own sources (standing in for the lecture's Linux kernel)."""
from __future__ import annotations

import pathlib
import sysconfig

HEAD = 4096  # bytes inspected for the signs of a binary file

# Folders of the stdlib tree that are not the standard library's own code: third-party
# packages, and the test suites, which hold deliberately malformed and non-UTF-8 files.
NOT_STDLIB = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}


def text_files(path: pathlib.Path) -> list[pathlib.Path]:
    """``path`` itself, or every file under the folder ``path`` in sorted path order
    (hidden files and folders, whose names start with a dot, are left out)."""
    if path.is_file():
        return [path]
    if not path.exists():
        raise ValueError(f"no such file or folder: {path}")
    if not path.is_dir():
        raise ValueError(f"{path} is neither a regular file nor a folder")
    files = sorted(p for p in path.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise ValueError(f"the folder {path} holds no files (hidden ones are skipped)")
    return files


def python_stdlib_files() -> list[pathlib.Path]:
    """The .py sources of the running Python's standard library, in sorted path order."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py")
                  if not NOT_STDLIB & set(p.relative_to(root).parts[:-1]))


def read_text(path: pathlib.Path) -> str:
    """The file as UTF-8 text; a file with a NUL byte or invalid UTF-8 is refused."""
    data = path.read_bytes()
    if b"\0" in data[:HEAD]:
        raise ValueError(f"{path} looks binary (a NUL byte in its first {HEAD} bytes); "
                         "the data must be UTF-8 text files")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {data[error.start]:#04x} at offset "
                         f"{error.start}); the data must be UTF-8 text files") from None


def corpus_text(files: list[pathlib.Path]) -> str:
    """The files' text concatenated in the order given; refuses a corpus with no text."""
    text = "".join(read_text(f) for f in files)
    if not text:
        raise ValueError(f"no text: the {len(files)} file(s) are empty")
    return text
