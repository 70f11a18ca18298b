"""The patches performers open, checked against the registry and driven as they are used: Pure Data runs
headless (Debian's puredata-core) with mg-live's patch, sends through its own boxes and shows telemetry in
them; the Max patch is valid JSON whose boxes carry the registry's addresses, and what its transport boxes
send is accepted."""

import json
import shutil
import socket
import subprocess
import sys
import time

import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from mg_live.engine.params import STATUS
from mg_live.live import patches
from mg_live.live.osc import OscServer
from mg_live.live.params import Registry


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_committed_patches_are_what_the_registry_writes():
    for name, make in patches.FILES.items():
        assert (patches.ROOT / name).read_text() == make(), f"patches/{name} is stale: python -m mg_live.live.patches"


def test_max_patch_matches_the_registry():
    patch = json.loads((patches.ROOT / "max" / "mg-live.maxpat").read_text())["patcher"]
    boxes = {b["box"]["id"]: b["box"] for b in patch["boxes"]}
    texts = [b.get("text", "") for b in boxes.values()]
    for p in patches.controls():
        if p.kind == "action":
            box = next(b for b in boxes.values() if b["maxclass"] == "message" and b["text"] == patches.address(p))
            wired = [line["patchline"]["destination"][0] for line in patch["lines"]
                     if line["patchline"]["source"][0] == box["id"]]
            assert [boxes[w]["text"] for w in wired] == ["udpsend 127.0.0.1 9000"], p.name
        else:
            assert f"prepend {patches.address(p)}" in texts, p.name
    route = next(t for t in texts if t.startswith("route /mg/status/"))
    assert route.split()[1:] == [f"/mg/status/{s}" for s in STATUS]
    assert {line["patchline"]["source"][0] for line in patch["lines"]} <= set(boxes)


def test_what_max_transport_boxes_send_is_accepted():
    """A Max message box holding an address sends it with no argument; buttons elsewhere send 1 on press
    and 0 on release: each press fires once."""
    got, registry = [], Registry()
    server = OscServer(registry, lambda p, v: got.append((p, v)), "127.0.0.1", 0)
    for p in patches.controls():
        if p.kind == "action":
            server.receive(OscMessageBuilder(patches.address(p)).build().dgram)
    for value in (1, 0, 1.0, 0.0):  # a TouchOSC / TouchDesigner button: press, release, press, release
        message = OscMessageBuilder("/mg/reset")
        message.add_arg(value)
        server.receive(message.build().dgram)
    server.sock.close()
    actions = [p.name for p in patches.controls() if p.kind == "action"]
    assert [name for name, _ in got] == actions + ["reset", "reset"]
    assert not registry.errors


@pytest.mark.skipif(not shutil.which("pd"), reason="Pure Data (Debian puredata-core) not installed")
def test_pure_data_drives_mg_live_and_shows_its_telemetry(tmp_path):
    send, reply = free_port(), free_port()
    (tmp_path / "mg-live.pd").write_text(patches.pd_patch(send, reply))
    # What a performer does in the patch, through its own boxes (their receive names): a guidance value,
    # a sentence typed into the prompt's list box, the play button. And what Pd shows, printed.
    (tmp_path / "drive.pd").write_text("\n".join([
        "#N canvas 0 0 400 300 12;", "#X obj 10 10 loadbang;", "#X obj 10 40 delay 2500;",
        "#X msg 10 70 \\; mg-in-cfg 5 \\; mg-in-prompt list dark techno with heavy kick \\; mg-in-play bang;",
        "#X obj 10 120 r mg-status-rtf;", "#X obj 10 150 print rtf;", "#X obj 150 120 r mg-status-prompt;",
        "#X obj 150 150 print prompt;", "#X connect 0 0 1 0;", "#X connect 1 0 2 0;", "#X connect 3 0 4 0;",
        "#X connect 5 0 6 0;"]) + "\n")
    live = subprocess.Popen([sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--no-audio", "--headless",
                             "--seconds", "60", "--osc-port", str(send), "--osc-reply", f"127.0.0.1:{reply}",
                             "--log", str(tmp_path / "take.jsonl")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "take.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        pd = subprocess.Popen(["pd", "-nogui", "-noaudio", "-nomidi", "-stderr", "-open", str(tmp_path / "mg-live.pd"),
                               "-open", str(tmp_path / "drive.pd")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        time.sleep(6)
        pd.terminate()
        shown = pd.communicate(timeout=10)[0]
    finally:
        live.terminate()
        live.communicate(timeout=60)
    log = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()[1:]]
    applied = {r["param"]: r["value"] for r in log if r.get("source") == "osc"}
    assert applied == {"cfg": 5.0, "prompt": "dark techno with heavy kick", "play": None}, shown
    assert "error" not in shown, shown
    assert [line for line in shown.splitlines() if line.startswith("rtf: ")], shown  # numbers reach Pd's boxes
    assert "prompt: symbol dark\\ techno\\ with\\ heavy\\ kick" in shown, shown
