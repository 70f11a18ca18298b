"""mg-live steered over real UDP, as Max or TouchDesigner would: every address takes effect at a logged
frame, garbage is counted and ignored, the music plays on, and the log replays to the same tokens."""

import json
import os
import random
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from pythonosc.udp_client import SimpleUDPClient

from mg_live.engine.params import STATUS
from mg_live.live.params import PARAMS, markdown_table, status_table


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


VALID = {  # one valid message per registry address
    "/mg/prompt": ["dark techno with heavy kick"], "/mg/negative": ["noise"], "/mg/cfg": [5.0],
    "/mg/temperature": [1.2], "/mg/topk": [50], "/mg/topp": [0.9], "/mg/window": [8.0], "/mg/morph": [0.5],
    "/mg/seed": [7], "/mg/slot/N/prompt": ["soft jazz piano"], "/mg/slot/N/weight": [0.4], "/mg/pause": [],
    "/mg/play": [], "/mg/reset": [], "/mg/record": ["take.wav"], "/mg/record/stop": [],
    "/mg/melody": ["not-here.wav"],  # tiny has no melody, and the file is missing: counted, not applied
    "/mg/bpm": [128.0], "/mg/quantize": ["beat"],  # from here on prompts, slots and scenes land on beats
    "/mg/tempo_prompt": [1], "/mg/scene/N/save": [], "/mg/scene/N/recall": [],
}
LOGGED_AS = {"record_stop": "record", "quit": None, "melody": None, "scene_save": None}


@pytest.fixture(scope="module")
def performance(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("perf")
    port, reply = free_port(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--no-audio", "--headless", "--seconds", "60",
         "--osc-port", str(port), "--osc-reply", f"127.0.0.1:{reply.getsockname()[1]}", "--top-k", "50",
         "--seed", "3", "--log", str(tmp / "take.jsonl"), "--record", str(tmp / "full.wav"),
         "--codes-out", str(tmp / "live.npy"), "--session-dir", str(tmp / "session")],
        stderr=subprocess.PIPE, text=True)
    telemetry = {}
    deadline = time.monotonic() + 60
    while len(telemetry) < len(STATUS) and time.monotonic() < deadline:  # it is up once it talks
        data, _ = reply.recvfrom(65536)
        from pythonosc.osc_message import OscMessage

        msg = OscMessage(data)
        telemetry[msg.address] = msg.params[0]
    client = SimpleUDPClient("127.0.0.1", port)
    sent = []
    order = {"pause": -2, "play": -1}  # pause first, so that play resumes it
    for p in sorted(PARAMS, key=lambda p: order.get(p.name, 0)):
        if p.name == "quit":
            continue
        address = p.osc.replace("/N/", "/2/")
        client.send_message(address, VALID[p.osc])
        sent.append(p.name)
        time.sleep(0.6 if p.name in ("pause", "record") else 0.15)
    rng = random.Random(0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        for _ in range(300):  # garbage datagrams
            raw.sendto(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64))), ("127.0.0.1", port))
    for address, value in (("/mg/cfg", "loud"), ("/mg/topk", "many"), ("/mg/prompt", 3), ("/mg/nothing", 1.0),
                           ("/mg/slot/99/weight", 0.5), ("/mg/record", "../../etc/evil.wav")):
        client.send_message(address, value)
    client.send_message("/mg/cfg", 99.0)  # clamped to 15
    client.send_message("/mg/temperature", -4.0)  # clamped to 0.05
    for i in range(500):  # a burst, as a fader sweep sends it
        client.send_message("/mg/temperature", 0.5 + i / 1000)
    time.sleep(2.0)
    client.send_message("/mg/quit", [])
    _, stderr = proc.communicate(timeout=120)
    reply.close()
    lines = [json.loads(line) for line in (tmp / "take.jsonl").read_text().splitlines()]
    return {"tmp": tmp, "rc": proc.returncode, "stderr": stderr, "log": lines, "sent": sent, "telemetry": telemetry}


def test_exits_cleanly(performance):
    assert performance["rc"] == 0, performance["stderr"]


def test_every_address_took_effect_at_a_frame(performance):
    changes = [r for r in performance["log"][1:] if not r.get("end")]
    applied = {r["param"] for r in changes}
    for name in performance["sent"]:
        if LOGGED_AS.get(name, name):
            assert LOGGED_AS.get(name, name) in applied, name
    frames = [r["frame"] for r in changes]
    assert frames == sorted(frames) and all(isinstance(f, int) for f in frames)


def test_bad_input_never_applied(performance):
    changes = [r for r in performance["log"][1:] if not r.get("end")]
    for r in changes:
        if r["param"] == "cfg":
            assert isinstance(r["value"], float) and 0 <= r["value"] <= 15
        if r["param"] == "temperature":
            assert 0.05 <= r["value"] <= 3
        if r["param"] == "record" and r["value"]:
            assert os.path.dirname(r["value"]) == str(performance["tmp"] / "session")
    assert any(r["param"] == "cfg" and r["value"] == 15.0 for r in changes)  # 99 clamped
    assert sum(r["param"] == "temperature" for r in changes) == 502  # the burst, nothing lost
    summary = performance["stderr"].strip().splitlines()[-1]
    assert "malformed packet 300" in summary, summary
    for kind in ("unknown address", "wrong type", "out of range (clamped)", "bad file name", "missing file"):
        assert kind in summary, summary


def test_audio_complete(performance):
    end = performance["log"][-1]
    audio, rate = sf.read(performance["tmp"] / "full.wav", dtype="float32")
    assert end["end"] and len(audio) == round(end["seconds"] * rate) and np.isfinite(audio).all()
    session = performance["tmp"] / "session" / "take.wav"
    assert sf.info(str(session)).frames > 0  # /mg/record wrote into the session folder


def test_telemetry(performance):
    assert set(performance["telemetry"]) == {f"/mg/status/{name}" for name in STATUS}


def test_replay_reproduces_tokens(performance, tmp_path):
    tmp = performance["tmp"]
    result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--replay", str(tmp / "take.jsonl"), "--out",
                             str(tmp_path / "again.wav"), "--codes-out", str(tmp_path / "again.npy")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    live, again = np.load(tmp / "live.npy"), np.load(tmp_path / "again.npy")
    assert live.shape[-1] > 100
    np.testing.assert_array_equal(again, live)


def test_readme_tables_match_the_registry():
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    assert markdown_table() in readme
    assert status_table() in readme
