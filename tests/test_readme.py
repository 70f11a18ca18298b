"""The README's set-up commands are the ones that run: CI runs the test command as written in .ci/run, and
the README shows exactly that command."""

import re

import pytest
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


def test_first_command_runs_on_a_machine_without_a_sound_card(tmp_path):
    """The Quick start's mg-live, as written, on a machine with no sound output (CI's): one line says so,
    the performance runs to the end, paced by the clock, and leaves its recording."""
    import shlex
    import subprocess
    import sys

    import soundfile as sf

    from mg_live.engine.audio import output_devices

    if output_devices():
        pytest.skip("this machine has a sound output (the test is for one without)")
    command = shlex.split(quick_start()[0].split("&&")[-1])
    assert command[0] == "mg-live"
    result = subprocess.run([sys.executable, "-m", "mg_live.live.app", *command[1:]], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stderr.splitlines() if "found no sound" in line]
    assert notices == ["mg-live: found no sound output device: playing on, paced by the clock "
                       "(--record keeps what plays)"], result.stderr
    assert "wall clock (no sound card)" in result.stderr
    seconds = float(command[command.index("--seconds") + 1])
    info = sf.info(str(tmp_path / command[command.index("--record") + 1]))
    assert info.duration == pytest.approx(seconds)
