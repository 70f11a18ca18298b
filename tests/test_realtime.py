"""Real time, paced by the wall clock: re-primes, a melody change, a chord and a reset never make the
audio wait. Contexts are short here (6 s) so that several re-primes happen in a few seconds; the buffer is
generous, and frame times are compared as ratios, never against absolute numbers."""

import json
import sys

import numpy as np
import soundfile as sf

from mg_live.engine import loading
from mg_live.engine.audio import AdaptiveBuffer, ClockSink
from mg_live.engine.sampling import SamplingParams
from mg_live.engine.streaming import SWITCH_INTERVAL_S, StreamingEngine
import oracle


class Timeline:
    """Per chunk: its frame time, whether a context was being built beside the playing one, and which
    context played."""

    def __init__(self):
        self.rows = []

    def __call__(self, engine) -> None:
        self.rows.append((engine.metrics.frame_times.recent[-1][1], len(engine.generator.contexts) > 1,
                          id(engine.generator.contexts[0])))

    @property
    def switches(self) -> int:
        return sum(a[2] != b[2] for a, b in zip(self.rows, self.rows[1:]))


def test_paced_run_across_reprimes_never_underruns(tmp_path):
    tiny = loading.load("tiny")
    sink = ClockSink(32000, 1, buffer_ms=300)
    engine = StreamingEngine(tiny, "slow ambient pad", SamplingParams(), sink, window_seconds=2.0, horizon=300,
                             log_path=tmp_path / "take.jsonl")
    timeline, intervals, before = Timeline(), set(), sys.getswitchinterval()

    def on_chunk(e):
        timeline(e)
        intervals.add(sys.getswitchinterval())

    engine.run(16.0, on_chunk=on_chunk)
    assert sink.underruns == 0
    assert engine.generator.reprimes >= 3 and timeline.switches >= 3
    # while it plays, other threads hold the interpreter in short turns (this backend's); then as before
    assert intervals == {SWITCH_INTERVAL_S["cpu"]} and sys.getswitchinterval() == before
    building = [ms for ms, catching_up, _ in timeline.rows[50:] if catching_up]
    alone = [ms for ms, catching_up, _ in timeline.rows[50:] if not catching_up]
    # Building a context costs each frame a little, spread over many frames: never one long stall.
    assert len(building) > 100 and np.median(building) <= 3 * np.median(alone)
    log = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()]
    assert not [r for r in log if "underrun" in r]


def test_melody_change_chord_and_reset_never_underrun(tmp_path):
    loaded = loading.load(str(oracle.FIXTURES / "melody"))
    t = np.arange(32000 * 3) / 32000
    sf.write(str(tmp_path / "tune.wav"), (0.3 * np.sin(2 * np.pi * 392.0 * t)).astype(np.float32), 32000)
    sink = ClockSink(32000, 1, buffer_ms=300)
    engine = StreamingEngine(loaded, oracle.PROMPTS[0], SamplingParams(), sink, window_seconds=2.0,
                             log_path=tmp_path / "take.jsonl")
    timeline = Timeline()
    plan = {50: ("melody", str(tmp_path / "tune.wav")), 300: ("melody", [0, 4, 7]), 450: ("reset", None),
            500: ("prompt", oracle.PROMPTS[1])}

    def on_chunk(e):
        timeline(e)
        if e.metrics.frames in plan:
            e.submit(*plan.pop(e.metrics.frames), source="test")

    engine.run(14.0, on_chunk=on_chunk)
    assert sink.underruns == 0
    log = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()[1:]]
    applied = [r["param"] for r in log if r.get("source") == "test"]
    assert applied == ["melody", "melody", "reset", "prompt"]
    assert timeline.switches >= 4 and engine.metrics.faults == 0  # each took over with a context of its own
    building = [ms for ms, catching_up, _ in timeline.rows[50:] if catching_up]
    alone = [ms for ms, catching_up, _ in timeline.rows[50:] if not catching_up]
    assert np.median(building) <= 3 * np.median(alone)


def test_a_gap_the_card_made_is_counted_and_logged_as_the_cards(tmp_path):
    """A card's own underflow (a JACK xrun) while mg-live plays: one underrun, in the event log with the
    frame it was heard at and marked as the card's; the ring itself never ran short."""
    tiny = loading.load("tiny")
    sink = ClockSink(32000, 1, buffer_ms=300)
    engine = StreamingEngine(tiny, "slow ambient pad", SamplingParams(), sink, log_path=tmp_path / "take.jsonl")
    heard = []

    def on_chunk(e):
        if e.metrics.frames == 100:
            heard.append(sink.ring.read // 640)
            sink.ring.card_gap()  # as the card's callback does when its status says it underflowed

    engine.run(3.0, on_chunk=on_chunk)
    assert sink.underruns == 1 and sink.ring.underruns == 0
    log = [json.loads(line) for line in (tmp_path / "take.jsonl").read_text().splitlines()]
    gaps = [r for r in log if "underrun" in r]
    assert len(gaps) == 1 and gaps[0]["card"] is True and abs(gaps[0]["frame"] - heard[0]) <= 1


def test_a_new_prompt_takes_effect_with_the_buffer_back_at_its_ceiling(monkeypatch):
    # the adaptive buffer shrinks within seconds here (it waits 10 s, then gives up 4 ms a second, in a show)
    monkeypatch.setattr(AdaptiveBuffer, "HOLD_SECONDS", 1.0)
    monkeypatch.setattr(AdaptiveBuffer, "SHRINK_PER_SECOND", 0.1)
    sink = ClockSink(32000, 1, buffer_ms=300)
    engine = StreamingEngine(loading.load("tiny"), "slow ambient pad", SamplingParams(), sink)
    targets = []  # (changes applied so far, the buffer's target) per chunk

    def on_chunk(e):
        targets.append((e.steering.applied, sink.target))
        if e.metrics.frames == 200:
            e.submit("prompt", "fast drum and bass", source="test")

    engine.run(6.0, on_chunk=on_chunk)
    assert sink.underruns == 0
    before = [target for applied, target in targets if applied == 0]
    after = [target for applied, target in targets if applied == 1]
    assert min(before[-20:]) < sink.ceiling / 2  # shrunk while nothing happened
    assert after and after[0] == sink.ceiling  # the frame loop fills the deeper buffer with the new prompt's frames


def test_the_frame_loop_waits_for_room_with_every_chunk_in_the_sink():
    """Before the frame loop waits for room, the codec hands over every chunk, the one just made too. A
    chunk left with it while the loop waits could not help the next frame if that one ran late, and would
    be heard a chunk later: every control would answer 20 ms later."""
    waits = []  # chunks still with the codec each time the loop had to wait

    class Watched(ClockSink):
        def wait_for_room(self, stop, ahead=0):
            if not self.has_room(ahead):
                waits.append(engine.codec.in_flight)
            super().wait_for_room(stop, ahead)

    sink = Watched(32000, 1, buffer_ms=100)
    engine = StreamingEngine(loading.load("tiny"), "slow ambient pad", SamplingParams(), sink)
    engine.run(3.0)
    assert sink.underruns == 0
    assert len(waits) > 50 and set(waits) == {0}
