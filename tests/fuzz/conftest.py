"""The fuzz suite's closing line: how many calls were tried, how many different errors."""
import sys
import os

sys.path.insert(0, os.path.dirname(__file__))

from harness import Tally  # noqa: E402


def pytest_terminal_summary(terminalreporter):
    if Tally.calls:
        terminalreporter.write_line(
            f"fuzz: {Tally.calls} calls, {len(Tally.messages)} distinct error messages "
            f"({len(Tally.shapes())} with numbers masked)")
