"""examples/char_lstm.py --data: any text file or folder trains; binary files, empty folders and
missing paths are refused with messages that name them; python-stdlib is the stdlib's sources."""
import re
import subprocess
import sysconfig
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
if str(EXAMPLES) not in sys.path:  # examples import their helpers by name
    sys.path.insert(0, str(EXAMPLES))

import char_lstm  # noqa: E402
import text_corpus  # noqa: E402

SOURCE = '''def add(a, b):
    """Return the sum of {0} and {1}."""
    total = a + b  # {0}
    return total

'''


def source_folder(root: Path) -> Path:
    """A small tree of Python-like files (about 6,000 characters), one nested folder deep."""
    (root / "pkg" / "sub").mkdir(parents=True)
    for i in range(60):
        folder = root / "pkg" / ("sub" if i % 2 else "")
        (folder / f"m{i:02d}.py").write_text(SOURCE.format(i, i * 7), encoding="utf-8")
    return root / "pkg"


def test_a_folder_of_text_trains_and_samples(tmp_path):
    data = source_folder(tmp_path)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "char_lstm.py"), "--quick", "--data", str(data),
         "--batch", "8", "--seq", "16", "--prompt", "def ", "--checkpoint",
         str(tmp_path / "c.npz"), "--plot", str(tmp_path / "c.png")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"final val loss \d+\.\d+", lines[-1]), done.stdout
    text = char_lstm.training_text(str(data))
    assert lines[0].startswith(f"{len(text):,} characters, vocabulary {len(set(text))},")
    assert "def " in done.stdout and (tmp_path / "c.png").exists()


def test_files_are_read_recursively_in_sorted_order_without_hidden_ones(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "b" / "2.txt").write_text("two ")
    (tmp_path / "1.txt").write_text("one ")
    (tmp_path / ".git" / "index").write_bytes(b"\0\1\2")
    (tmp_path / ".hidden.txt").write_text("hidden ")
    assert char_lstm.training_text(str(tmp_path)) == "one two "
    assert char_lstm.training_text(str(tmp_path / "1.txt")) == "one "


def test_a_binary_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("some text\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
    with pytest.raises(ValueError, match=r"image\.png looks binary \(a NUL byte in its first "
                                         r"4096 bytes\)"):
        char_lstm.training_text(str(tmp_path))


def test_invalid_utf8_is_refused_with_its_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt is not UTF-8 text \(byte 0xe9 at "
                                         r"offset 3\)"):
        char_lstm.training_text(str(path))


def test_an_empty_folder_and_empty_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"the folder .* holds no files"):
        char_lstm.training_text(str(tmp_path))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match=r"no text: the 1 file\(s\) are empty"):
        char_lstm.training_text(str(tmp_path))
    with pytest.raises(ValueError, match=r"no such file or folder: .*missing"):
        char_lstm.training_text(str(tmp_path / "missing"))


def test_the_command_line_refuses_with_the_message(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\0" * 10)
    done = subprocess.run([sys.executable, str(EXAMPLES / "char_lstm.py"), "--quick", "--data",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"--data {tmp_path}: {tmp_path / 'a.bin'} looks binary (a "
                                   "NUL byte in its first 4096 bytes); the data must be UTF-8 "
                                   "text files")


def test_a_prompt_outside_the_vocabulary_is_refused_before_training(tmp_path):
    (tmp_path / "abc.txt").write_text("abc\n" * 5000)
    done = subprocess.run([sys.executable, str(EXAMPLES / "char_lstm.py"), "--quick", "--data",
                           str(tmp_path), "--checkpoint", str(tmp_path / "c.npz")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "--prompt 'ROMEO' does not fit --data" in done.stderr
    assert "characters not in the vocabulary: 'EMOR'" in done.stderr
    assert not (tmp_path / "c.npz").exists()


def test_python_stdlib_is_the_standard_librarys_own_sources():
    files = text_corpus.python_stdlib_files()
    names = {f.name for f in files}
    assert {"os.py", "argparse.py", "__init__.py"} <= names
    assert all(f.suffix == ".py" for f in files)
    root = Path(sysconfig.get_paths()["stdlib"])
    assert not any({"site-packages", "test"} & set(f.relative_to(root).parts) for f in files)
