"""The README's set-up commands are the ones that run: CI runs the test command as written in .ci/run, and
the README shows exactly that command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_start() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\n\n```sh\n(.*?)\n```", readme, re.S)
    assert block, "README has a Quick start sh block"
    return block.group(1).splitlines()


def test_readme_has_exactly_two_commands():
    assert len(quick_start()) == 2


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == quick_start()[1]
    assert "pytest" in ci[-1]
