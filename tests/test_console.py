"""The mg-live console driven as a person would, in tmux: it shows the status and the tempo, takes a prompt,
keeps and recalls a scene, quits."""

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pythonosc.udp_client import SimpleUDPClient

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def console(tmp_path):
    log, done, port = tmp_path / "take.jsonl", tmp_path / "exit", free_port()
    # (COLUMNS/LINES from the test run would pin the console to 80×24)
    command = (f"cd {shlex.quote(str(ROOT))} && env -u COLUMNS -u LINES MG_LIVE_CACHE={shlex.quote(os.environ['MG_LIVE_CACHE'])} "
               f"{shlex.quote(sys.executable)} -m mg_live.live.app --model tiny --no-audio --osc-port {port} "
               f"--seconds 120 --log {shlex.quote(str(log))} --session-dir {shlex.quote(str(tmp_path))}; echo $? > {shlex.quote(str(done))}; sleep 60")
    # a performer's terminal, from its first moment (not tmux's 80×24 default)
    tmux("start-server", ";", "set-option", "-g", "default-size", "140x45", ";",
         "new-session", "-d", "-s", "mg", "-x", "140", "-y", "45", command)
    yield log, done, port
    tmux("kill-server")


PROMPT = "lofi hip hop beat with warm vinyl crackle and a slow jazz piano over soft brushed drums"


def test_console_shows_status_takes_a_prompt_keeps_a_scene_and_quits(console):
    log, done, port = console
    assert wait_for(lambda: " s   rtf " in screen() and "parameter" in screen()), screen()
    assert "cfg" in screen() and "temperature" in screen() and "slot 1" in screen()
    meter = next(line for line in screen().splitlines() if "buffer" in line and " ms" in line)
    assert re.search(r"buffer +\d+ / +\d+ ms", meter) and ("━" in meter or "╸" in meter or "─" in meter), meter
    SimpleUDPClient("127.0.0.1", port).send_message("/mg/cfg", "loud")  # bad input: counted where it shows
    assert wait_for(lambda: "ignored input 1" in screen()), screen()
    tmux("send-keys", "-t", "mg", "p")
    time.sleep(0.5)
    tmux("send-keys", "-t", "mg", PROMPT, "Enter")
    assert wait_for(lambda: PROMPT in screen()), screen()  # the whole prompt, not its first word
    tmux("send-keys", "-t", "mg", "Down", "Down")
    time.sleep(0.5)
    tmux("send-keys", "-t", "mg", "+")  # nudge guidance up
    assert wait_for(lambda: any(line.split()[:2] == ["cfg", "3.375"] for line in screen().splitlines())), screen()
    assert "120.0 bpm (manual)" in screen() and "grid off" in screen()  # the timeline, as a tempo set by hand
    tmux("send-keys", "-t", "mg", "w")  # keep this as scene 3, then recall it
    time.sleep(0.5)
    tmux("send-keys", "-t", "mg", "3", "Enter")
    assert wait_for(lambda: "scene 3 saved" in screen()), screen()
    tmux("send-keys", "-t", "mg", "3")
    assert wait_for(lambda: '"param": "scene_recall"' in log.read_text()), screen()
    tmux("send-keys", "-t", "mg", "C-c")  # Ctrl-C quits, as the README says
    assert wait_for(lambda: done.exists() and done.read_text().strip() != "", 30), screen()
    assert done.read_text().strip() == "0"
    changes = [json.loads(line) for line in log.read_text().splitlines()[1:]]
    assert any(c.get("param") == "prompt" and c["source"] == "console" and c["value"] == PROMPT for c in changes)
    assert any(c.get("param") == "cfg" and c["source"] == "console" and c["value"] > 3.0 for c in changes)
    recall = next(c for c in changes if c.get("param") == "scene_recall")
    assert recall["source"] == "console" and recall["value"]["prompt"] == PROMPT and recall["value"]["scene"] == 3
