"""Playing with a band: the timeline follows a MIDI clock sent through a real JACK MIDI port and a Link
peer; quantized changes land on the frame heard on the grid's line (asserted from the event log and the
sink's play position); scenes save, recall, survive a restart and replay exactly; tempo reaches the prompt."""

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings

import mido
import numpy as np
import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.udp_client import SimpleUDPClient

from mg_live.engine import loading
from mg_live.engine.audio import ClockSink
from mg_live.engine.conditioning import Blend
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.streaming import StreamingEngine
from mg_live.engine.tempo import Timeline
from mg_live.live.scenes import Scenes
from mg_live.live.tempo import MidiClock
import oracle

HOP, RATE = 640, 32000


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- quantized changes, heard on the line -------------------------------------------------------------

class Watch:
    """On every chunk: the sink's play position (samples played, when), and the contexts that own frames;
    once `at` seconds have been heard, `change` is submitted (mid-bar)."""

    def __init__(self, at: float, change: tuple):
        self.at, self.change, self.clocks, self.owners, self.arrived = at, change, [], set(), None

    def __call__(self, engine) -> None:
        if engine.sink.clock:
            self.clocks.append(engine.sink.clock)
        self.owners |= {c.owns_from for c in engine.generator.contexts}
        if self.arrived is None and engine.sink.played >= self.at * RATE:
            self.arrived = time.perf_counter()
            engine.submit(*self.change, source="osc")

    def heard(self, sample: int) -> float:
        """When `sample` was heard, from the play position taken nearest to it."""
        played, t = min(self.clocks, key=lambda c: abs(c[0] - sample))
        return t + (sample - played) / RATE


def quantized_run(loaded, tmp_path, change, seconds=6.0, **kwargs):
    timeline = Timeline(150.0)  # a bar lasts 1.6 s
    engine = StreamingEngine(loaded, oracle.PROMPTS[0], SamplingParams(), ClockSink(RATE, 1, 150),
                             log_path=tmp_path / "take.jsonl", timeline=timeline, grid="bar", **kwargs)
    watch = Watch(2.3, change)  # heard 0.7 s into the second bar
    engine.run(seconds, on_chunk=watch)
    assert engine.sink.underruns == 0
    log = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()]
    record = next(r for r in log if r.get("param") == change[0])
    return engine, timeline, watch, record


def assert_on_the_line(timeline, watch, frame: int) -> None:
    heard = watch.heard(frame * HOP)
    line = timeline.time_at(8.0)  # the third bar's downbeat (beat 8), the first one the change can reach
    assert abs(heard - line) <= 0.020, f"frame {frame} heard {1000 * (heard - line):+.1f} ms from the downbeat"
    assert heard > watch.arrived


def test_a_quantized_prompt_lands_on_the_frame_heard_on_the_downbeat(tmp_path):
    engine, timeline, watch, record = quantized_run(loading.load("tiny"), tmp_path, ("prompt", "fast techno"))
    downbeat, max_delay = record["downbeat"], engine.generator.max_delay
    # The change took effect `max_delay` frames before: the downbeat's frame is the first made entirely with it.
    assert record["frame"] == downbeat - max_delay
    assert_on_the_line(timeline, watch, downbeat)


def test_a_melody_model_builds_the_context_that_owns_the_downbeat(tmp_path):
    loaded = loading.load(str(oracle.FIXTURES / "melody"))
    engine, timeline, watch, record = quantized_run(loaded, tmp_path, ("melody", [0, 4, 7]), seconds=7.0,
                                                    window_seconds=2.0)
    downbeat = record["downbeat"]
    assert downbeat in watch.owners  # a new context (the new melody) owns frames from the downbeat on
    heard = watch.heard(downbeat * HOP)
    beat = timeline.beat_at(heard)
    assert abs(beat - round(beat / 4) * 4) <= 0.05, beat  # a bar line, within a frame (0.05 beats at 150 bpm)
    assert heard > watch.arrived


# --- MIDI clock through a JACK MIDI port ----------------------------------------------------------------

def test_midi_clock_steps_the_timeline():
    """Start, ticks, Song Position and Stop, as the MIDI spec counts them."""
    timeline, clock = Timeline(90.0), MidiClock(Timeline())
    clock.timeline = timeline
    clock.handle(mido.Message("start"), t=10.0)
    for tick in range(48):  # 120 bpm: a tick every 1/48 s
        clock.handle(mido.Message("clock"), t=10.0 + tick / 48)
    assert timeline.bpm == pytest.approx(120.0) and timeline.beat_at(11.0) == pytest.approx(2.0)
    clock.handle(mido.Message("stop"), t=11.0)
    assert not timeline.running and timeline.beat_at(20.0) == pytest.approx(2.0)
    clock.handle(mido.Message("songpos", pos=16), t=12.0)  # 16 sixteenths: bar 2's downbeat
    clock.handle(mido.Message("continue"), t=12.0)
    clock.handle(mido.Message("clock"), t=12.0)
    assert timeline.running and timeline.position(12.0)[1:] == (2, 1.0)


jackd = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd (Debian jackd2) not installed")


@jackd
def test_a_midi_clock_at_120_bpm_moves_the_bar_counter(tmp_path):
    server = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    reply.bind(("127.0.0.1", 0))
    reply.settimeout(20)
    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    clock_out = backend.open_output("mg-test-clock", virtual=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--no-audio", "--headless", "--seconds", "30",
         "--osc-port", "0", "--osc-reply", f"127.0.0.1:{reply.getsockname()[1]}", "--midi-in", "mg-test-clock"],
        stderr=subprocess.PIPE, text=True, env=os.environ | {"MIDO_BACKEND": "mido.backends.rtmidi/UNIX_JACK"})
    try:
        for line in proc.stderr:  # it says when it listens on the port
            if "MIDI: listening on" in line:
                break
        time.sleep(0.5)  # the JACK connection to its port is made in the next cycles: a Start before is lost
        heard = []  # (when received, beat, bar, bpm)

        def listen():
            status = {}
            while True:
                try:
                    data, _ = reply.recvfrom(65536)
                except OSError:
                    return
                msg = OscMessage(data)
                status[msg.address.rsplit("/", 1)[1]] = msg.params[0]
                if msg.address.endswith("/beat"):
                    status["when"] = time.perf_counter()
                if msg.address.endswith("/bar") and "when" in status:
                    heard.append((status["when"], status["beat"], status["bar"], status["bpm"]))

        threading.Thread(target=listen, daemon=True).start()
        clock_out.send(mido.Message("start"))
        start = time.perf_counter()
        for tick in range(24 * 2 * 6):  # six seconds at 120 bpm
            while time.perf_counter() < start + tick / 48:
                time.sleep(0.0002)
            clock_out.send(mido.Message("clock"))
        time.sleep(0.3)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
        reply.close()
        clock_out.close()
        server.terminate()
        server.wait()
    settled = [h for h in heard if h[0] > start + 2.0 and h[0] < start + 6.0]  # after two beats of fitting
    assert len(settled) >= 10, heard
    # 120 bpm: two beats a second from the first tick. Typically within one frame (20 ms, 0.04 beats); a
    # wrong phase (a tick or a frame off) moves them all. A single one may be later: the ticks' arrival and
    # the status message pass through two busy processes' threads on a 2-core machine (CI saw 26 ms once).
    errors = [abs(beat - (when - start) * 2.0) for when, beat, _, _ in settled]
    assert np.median(errors) <= 0.04 and max(errors) <= 0.1, errors
    for when, beat, bar, bpm in settled:
        assert bar == int(beat // 4) + 1 and bpm == pytest.approx(120.0, abs=0.5)
    assert max(bar for _, _, bar, _ in settled) >= 3


# --- Link -------------------------------------------------------------------------------------------------

def test_two_link_peers_in_one_process_share_tempo_and_bars():
    aalink = pytest.importorskip("aalink", reason="aalink has no wheel for this platform (tested by hand)")
    import asyncio

    from mg_live.live.tempo import LinkClock

    warnings.simplefilter("ignore", DeprecationWarning)  # aalink still asks for a loop
    loop = asyncio.new_event_loop()
    peer = aalink.Link(128.0, loop)
    peer.quantum = 4
    peer.enabled = True
    # Link keeps the older of two sessions only when it is older by more than 0.5 s (else a coin toss on
    # the session ids): 0.6 s lost the toss on a loaded CI machine, whose Link thread started the peer late
    time.sleep(2.0)
    timeline = Timeline(100.0)
    clock = LinkClock(timeline).start()
    try:
        deadline = time.monotonic() + 10
        while (clock.peers == 0 or timeline.bpm != pytest.approx(128.0)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert clock.peers == 1 and timeline.bpm == pytest.approx(128.0, abs=0.01)
        time.sleep(0.05)
        ours, theirs = timeline.beat_at(time.perf_counter()), peer.beat
        phase = (ours - theirs + 2) % 4 - 2  # bars aligned: the same place in the bar, within a frame
        assert abs(phase) <= 128 / 60 * 0.020, (ours, theirs)
        timeline.set_tempo(97.0)  # /mg/bpm goes to the session
        deadline = time.monotonic() + 5
        while peer.tempo != pytest.approx(97.0, abs=0.01) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert peer.tempo == pytest.approx(97.0, abs=0.01)
    finally:
        clock.close()
        peer.enabled = False
        loop.close()


# --- tempo in the prompt ------------------------------------------------------------------------------

def test_tempo_in_the_prompt_reads_the_text_with_the_tempo():
    tiny = loading.load("tiny")
    engine = StreamingEngine(tiny, "dub techno", SamplingParams(), ClockSink(RATE, 1, 150), timeline=Timeline(124.4))
    engine.submit("tempo_prompt", 1)
    engine.steering.at_boundary()
    engine.preparer.close()  # the composition is ready
    engine.steering.at_boundary()
    expected = engine.conditioner.compose(Blend.of("dub techno, 124 bpm"))
    np.testing.assert_array_equal(np.array(engine.conditioner.active.cross), np.array(expected.cross))
    assert engine.settings()["prompt"] == "dub techno" and engine.settings()["tempo_prompt"] == 1
    engine.close()


# --- scenes ----------------------------------------------------------------------------------------------

def perform(tmp_path, name, scenes, script, seconds=9.0):
    """mg-live (tiny, clock-paced) steered over OSC by `script(client)`; its event log and codes."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--no-audio", "--headless", "--seconds",
         str(seconds), "--osc-port", str(port), "--oscquery-port", "0", "--seed", "5", "--scenes", str(scenes),
         "--log", str(tmp_path / f"{name}.jsonl"), "--codes-out", str(tmp_path / f"{name}.npy"), "--tempo-prompt"],
        stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "Ctrl-C stops" in line:
            break
    script(SimpleUDPClient("127.0.0.1", port))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    log = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
    return log, stderr


def test_scenes_save_recall_survive_a_restart_and_replay(tmp_path):
    scenes = tmp_path / "show.scenes.toml"

    def first(osc):
        for address, value in (("/mg/prompt", "glassy arpeggios"), ("/mg/cfg", 6.0), ("/mg/slot/1/prompt", "tabla"),
                               ("/mg/slot/1/weight", 0.3), ("/mg/window", 6.0)):
            osc.send_message(address, value)
        time.sleep(1.0)
        osc.send_message("/mg/scene/2/save", [])
        time.sleep(0.3)
        for address, value in (("/mg/prompt", "distorted breakbeat"), ("/mg/cfg", 2.0), ("/mg/slot/1/weight", 0.0),
                               ("/mg/quantize", "beat")):
            osc.send_message(address, value)
        time.sleep(1.0)
        osc.send_message("/mg/scene/2/recall", [])
        osc.send_message("/mg/scene/9/recall", [])  # never saved: counted, ignored

    log, stderr = perform(tmp_path, "first", scenes, first)
    kept = Scenes.load(scenes).get(2)
    assert kept["prompt"] == "glassy arpeggios" and kept["cfg"] == 6.0 and kept["window"] == 6.0
    assert kept["slots"]["1"][0] == "tabla" and kept["slots"]["1"][1] == pytest.approx(0.3)  # OSC sends float32
    recall = next(r for r in log if r.get("param") == "scene_recall")
    assert recall["value"]["prompt"] == "glassy arpeggios" and "downbeat" in recall  # on the beat
    assert "unknown scene 1" in stderr.strip().splitlines()[-1]

    def second(osc):  # a new process: the scene comes from the file
        osc.send_message("/mg/scene/2/recall", [])

    log, _ = perform(tmp_path, "second", scenes, second)
    recall = next(r for r in log if r.get("param") == "scene_recall")
    assert recall["value"] == {"scene": 2, **kept}

    for name in ("first", "second"):  # every recall (and the tempo read into the prompt) replays exactly
        result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--replay", str(tmp_path / f"{name}.jsonl"),
                                 "--out", str(tmp_path / "again.wav"), "--codes-out", str(tmp_path / "again.npy")],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        np.testing.assert_array_equal(np.load(tmp_path / "again.npy"), np.load(tmp_path / f"{name}.npy"))


def test_a_broken_scenes_file_is_one_line_at_start(tmp_path):
    scenes = tmp_path / "bad.toml"
    scenes.write_text('[scene.1]\nprompt = "x"\ncfg = 99\n')
    result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--no-audio", "--seconds",
                             "1", "--scenes", str(scenes)], capture_output=True, text=True)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "bad.toml" in result.stderr and "cfg must be between 0 and 15" in result.stderr
