"""MIDI: mido messages through the router and through a port of a fake backend that comes and goes."""

import threading
import time
from pathlib import Path

import mido
import pytest

from mg_live.live.midi import CCBinding, MidiInput, MidiMap, MidiRouter, NoteBinding
from mg_live.live.params import Registry

MAPS = sorted((Path(__file__).parent.parent / "patches" / "midi").glob("*.toml"))


def router(mapping):
    got = []
    return MidiRouter(mapping, Registry(), lambda p, v: got.append((p, v))), got


def cc(control, value, channel=0):
    return mido.Message("control_change", control=control, value=value, channel=channel)


def test_cc_range_and_curves():
    r, got = router(MidiMap(cc=[CCBinding(1, "cfg", 1.0, 9.0), CCBinding(2, "temperature", 0.1, 2.1, "exp"),
                                CCBinding(3, "top_k", 0, 100, "log", channel=2)]))
    for msg in (cc(1, 0), cc(1, 127), cc(1, 64), cc(2, 64), cc(3, 127, channel=0), cc(3, 32, channel=2)):
        r.handle(msg)
    assert got[:3] == [("cfg", 1.0), ("cfg", 9.0), ("cfg", pytest.approx(1 + 8 * 64 / 127))]
    assert got[3] == ("temperature", pytest.approx(0.1 + 2.0 * (64 / 127) ** 2))
    assert got[4] == ("top_k", round(100 * (32 / 127) ** 0.5))  # channel 0 ignored, channel 2 taken
    assert len(got) == 5


def test_fourteen_bit_pair():
    r, got = router(MidiMap(cc=[CCBinding(7, "cfg", 0.0, 15.0, lsb=39)]))
    value = 12345
    r.handle(cc(7, value >> 7))
    r.handle(cc(39, value & 127))
    assert got[-1] == ("cfg", pytest.approx(15 * value / 16383))
    assert abs(got[0][1] - got[-1][1]) < 15 / 127  # the coarse value first, then refined


def test_notes_and_buttons():
    mapping = MidiMap(cc=[CCBinding(41, "play")],
                      notes=[NoteBinding(36, "prompt", "dark techno"), NoteBinding(37, "pause"),
                             NoteBinding(38, "slot_weight", 0.8, slot=2)])
    r, got = router(mapping)
    r.handle(mido.Message("note_on", note=36, velocity=100))
    r.handle(mido.Message("note_on", note=37, velocity=0))  # a note-off in disguise: nothing
    r.handle(mido.Message("note_on", note=37, velocity=90))
    r.handle(mido.Message("note_on", note=38, velocity=90))
    r.handle(cc(41, 127))
    r.handle(cc(41, 0))  # button released: nothing
    assert got == [("prompt", "dark techno"), ("pause", None), ("slot_weight", [2, 0.8]), ("play", None)]


def test_scenes_grid_and_clock():
    """Scene buttons and pads carry their scene; a knob on a choice steps through it; clock messages go to
    the clock, not to the bindings."""
    clock = []
    mapping = MidiMap(cc=[CCBinding(32, "scene_recall", scene=1), CCBinding(64, "scene_save", scene=4),
                          CCBinding(23, "grid")],
                      notes=[NoteBinding(44, "scene_recall", scene=2, channel=9)])
    r, got = router(mapping)
    r.clock = type("Clock", (), {"handle": lambda self, msg: clock.append(msg.type)})()
    for msg in (cc(64, 127), cc(32, 127), cc(32, 0), mido.Message("note_on", note=44, velocity=1, channel=9),
                cc(23, 0), cc(23, 64), cc(23, 127), mido.Message("start"), mido.Message("clock"),
                mido.Message("songpos", pos=8), mido.Message("stop")):
        r.handle(msg)
    assert got == [("scene_save", 4), ("scene_recall", 1), ("scene_recall", 2), ("grid", "off"), ("grid", "2 bars"),
                   ("grid", "8 bars")]
    assert clock == ["start", "clock", "songpos", "stop"]


def test_out_of_range_map_is_clamped_by_registry():
    r, got = router(MidiMap(cc=[CCBinding(1, "cfg", 0.0, 40.0)]))
    r.handle(cc(1, 127))
    assert got == [("cfg", 15.0)] and r.registry.errors["out of range (clamped)"] == 1


def test_learn_and_save(tmp_path):
    r, got = router(MidiMap(name="mine"))
    r.learn("temperature")
    r.handle(cc(21, 127))
    assert got == [("temperature", 3.0)]
    r.mapping.save(tmp_path / "mine.toml")
    again = MidiMap.load(tmp_path / "mine.toml")
    assert [(c.control, c.param) for c in again.cc] == [(21, "temperature")]


@pytest.mark.parametrize("path", MAPS, ids=[p.stem for p in MAPS])
def test_shipped_maps_load(path):
    mapping = MidiMap.load(path)
    assert mapping.name and mapping.cc
    assert any(b.param == "scene_recall" for b in [*mapping.cc, *mapping.notes])  # scenes on every controller


def test_shipped_maps_exist():
    assert len(MAPS) >= 3


def test_bad_map_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[cc]]\ncontrol = 1\nparam = "volume"\n')
    with pytest.raises(ValueError, match="unknown parameter 'volume'"):
        MidiMap.load(bad)
    bad.write_text('[[note]]\nnote = 36\nparam = "scene_recall"\nscene = 99\n')
    with pytest.raises(ValueError, match="scene_recall needs a scene 1–64, got 99"):
        MidiMap.load(bad)


class FakePort:
    def __init__(self, backend):
        self.backend, self.closed = backend, False

    def iter_pending(self):
        while self.backend.queue:
            yield self.backend.queue.pop(0)

    def close(self):
        self.closed = True


class FakeBackend:
    """A MIDI system whose one device can be unplugged and plugged back in."""

    def __init__(self):
        self.plugged, self.queue, self.lock = True, [], threading.Lock()

    def names(self):
        return ["Fake Controller 1"] if self.plugged else []

    def open(self, name):
        if not self.plugged:
            raise OSError("no such port")
        return FakePort(self)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.01)
    return predicate()


def test_port_disappears_and_comes_back():
    backend = FakeBackend()
    r, got = router(MidiMap(cc=[CCBinding(1, "cfg", 0.0, 15.0)]))
    midi = MidiInput(r, "fake", open_input=backend.open, input_names=backend.names, check_s=0.05).start()
    try:
        assert wait_for(lambda: midi.port_name == "Fake Controller 1")
        backend.queue.append(cc(1, 127))
        assert wait_for(lambda: got == [("cfg", 15.0)])
        backend.plugged = False
        assert wait_for(lambda: midi.port_name is None)
        backend.plugged = True
        assert wait_for(lambda: midi.connects == 2)
        backend.queue.append(cc(1, 0))
        assert wait_for(lambda: got[-1] == ("cfg", 0.0))
    finally:
        midi.close()
