"""Show-day faults, driven as a performer or a stage hand would cause them: every bad argument is refused
at start in one line; during a show, every fault is counted and the music and every surface go on (a
message sent after the fault still applies). OSC comes from liblo's `oscsend`, a client nobody here wrote."""

import json
import shutil
import socket
import subprocess
import sys
import time

import pytest

APP = [sys.executable, "-m", "mg_live.live.app"]


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refusals(tmp):
    a_file = tmp / "a-file"
    a_file.write_text("")
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    bad_map = tmp / "bad.toml"
    bad_map.write_text("[cc.1]\nparam = 'volume'\n")
    return busy, {
        "--record": (["--record", str(a_file / "x.wav")], "--record"),
        "--log": (["--log", str(a_file / "x.jsonl")], "--log"),
        "--codes-out": (["--codes-out", str(a_file / "x.npy")], "--codes-out"),
        "--session-dir": (["--session-dir", str(a_file / "takes")], "--session-dir"),
        "--osc-reply nonsense": (["--osc-reply", "nonsense"], "--osc-reply"),
        "--osc-reply unknown host": (["--osc-reply", "nohost.invalid:9001"], "nohost.invalid"),
        "--osc-reply port": (["--osc-reply", "127.0.0.1:99999"], "99999"),
        "--osc-port 70000": (["--osc-port", "70000"], "--osc-port"),
        "--osc-port busy": (["--osc-port", str(busy.getsockname()[1])], "cannot listen for OSC"),
        "--midi-map broken": (["--midi-map", str(bad_map)], "bad.toml"),
        "--seconds nan": (["--seconds", "nan"], "--seconds"),
        "--seconds -1": (["--seconds", "-1"], "--seconds"),
        "--cfg 99": (["--cfg", "99"], "cfg must be between 0 and 15"),
        "--temperature -1": (["--temperature", "-1"], "temperature must be between"),
        "--top-k -1": (["--top-k", "-1"], "top_k must be between"),
        "--buffer-ms -5": (["--buffer-ms", "-5"], "--buffer-ms"),
    }


def test_every_bad_argument_is_one_line_at_start(tmp_path):
    busy, cases = refusals(tmp_path)
    try:
        for name, (args, mention) in cases.items():
            result = subprocess.run([*APP, "--no-audio", "--headless", "--seconds", "1", *args], capture_output=True,
                                    text=True, timeout=60)
            lines = result.stderr.strip().splitlines()
            assert result.returncode == 2, (name, result.stderr)
            assert len(lines) == 1 and lines[0].startswith("mg-live: ") and mention in lines[0], (name, lines)
    finally:
        busy.close()


@pytest.mark.skipif(shutil.which("oscsend") is None, reason="liblo's oscsend (Debian liblo-tools) not installed")
def test_faults_during_a_show_are_counted_and_the_show_goes_on(tmp_path):
    port = free_port()
    log = tmp_path / "take.jsonl"
    proc = subprocess.Popen([*APP, "--no-audio", "--headless", "--seconds", "40", "--osc-port", str(port),
                             "--oscquery-port", "0", "--log", str(log), "--session-dir", str(tmp_path / "session"),
                             "--midi-in", "no such controller"], stderr=subprocess.PIPE, text=True)

    def osc(*message):
        subprocess.run(["oscsend", "127.0.0.1", str(port), *message], check=True, timeout=10)
        time.sleep(0.3)

    def logged():
        return [json.loads(line) for line in log.read_text().splitlines()[1:]] if log.exists() else []

    deadline = time.monotonic() + 60
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.sendto(b"", ("127.0.0.1", port))  # an empty datagram
        raw.sendto(b"/mg/cfg\x00,f\x00\x00", ("127.0.0.1", port))  # a float announced, none sent
    osc("/mg/record", "s", "s/take1")  # a path, not a file name: refused, the OSC thread lives on
    osc("/mg/pause", "i", "1")  # a button press ...
    osc("/mg/pause", "i", "0")  # ... and its release, which must not fire again
    osc("/mg/play", "i", "1")
    osc("/mg/prompt", "sss", "soft", "jazz", "piano")  # Pd and Max send a sentence as a list of words
    osc("/mg/prompt", "s", "")  # empty: the model plays unconditioned (no crash, as it once was)
    osc("/mg/cfg", "f", "6.5")  # after every fault: still applied
    while not any(r.get("param") == "cfg" for r in logged()) and time.monotonic() < deadline:
        time.sleep(0.1)
    osc("/mg/quit")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    changes = [r for r in logged() if "param" in r]
    assert [r["param"] for r in changes if r["param"] in ("pause", "play")] == ["pause", "play"]
    assert [r["value"] for r in changes if r["param"] == "prompt"] == ["soft jazz piano", ""]
    assert any(r["param"] == "cfg" and r["value"] == 6.5 for r in changes)
    summary = stderr.strip().splitlines()[-1]
    assert "malformed packet 2" in summary and "bad file name 1" in summary, summary
    assert sum("no such controller" in line for line in stderr.splitlines()) == 1, stderr
    assert "Traceback" not in stderr and "Exception in thread" not in stderr, stderr
