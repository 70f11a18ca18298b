"""The mg-live console driven as a person would, in tmux: it shows the status, takes a prompt, quits."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
ROOT = Path(__file__).resolve().parent.parent


def tmux(*args) -> str:
    return subprocess.run(["tmux", "-L", "mg-live-test", *args], capture_output=True, text=True).stdout


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def screen() -> str:
    return tmux("capture-pane", "-t", "mg", "-p")


@pytest.fixture
def console(tmp_path):
    log, done = tmp_path / "take.jsonl", tmp_path / "exit"
    command = (f"cd {shlex.quote(str(ROOT))} && env MG_LIVE_CACHE={shlex.quote(os.environ['MG_LIVE_CACHE'])} "
               f"{shlex.quote(sys.executable)} -m mg_live.live.app --model tiny --no-audio --osc-port 0 --seconds 120 "
               f"--log {shlex.quote(str(log))}; echo $? > {shlex.quote(str(done))}; sleep 60")
    tmux("new-session", "-d", "-s", "mg", "-x", "150", "-y", "40", command)
    yield log, done
    tmux("kill-server")


def test_console_shows_status_takes_a_prompt_and_quits(console):
    log, done = console
    assert wait_for(lambda: " s   rtf " in screen() and "parameter" in screen()), screen()
    assert "cfg" in screen() and "temperature" in screen() and "buffer" in screen()
    tmux("send-keys", "-t", "mg", "p")
    time.sleep(0.5)
    tmux("send-keys", "-t", "mg", "lofi hip hop beat", "Enter")
    assert wait_for(lambda: "prompt → lofi hip hop beat" in screen()), screen()
    tmux("send-keys", "-t", "mg", "Down", "Down")
    time.sleep(0.5)
    tmux("send-keys", "-t", "mg", "+")  # nudge guidance up
    assert wait_for(lambda: any(line.split()[:2] == ["cfg", "3.375"] for line in screen().splitlines())), screen()
    tmux("send-keys", "-t", "mg", "q")
    assert wait_for(lambda: done.exists() and done.read_text().strip() != "", 30), screen()
    assert done.read_text().strip() == "0"
    changes = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    assert {"source": "console", "param": "prompt", "value": "lofi hip hop beat"}.items() <= changes[0].items()
    assert any(c.get("param") == "cfg" and c["source"] == "console" and c["value"] > 3.0 for c in changes)
