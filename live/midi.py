"""MIDI in: CC → parameter (range, curve, 14-bit pairs), note → action / prompt / slot, MIDI-learn, and a
port that may come and go mid-performance. Maps are TOML files (patches/midi/ has some)."""

from __future__ import annotations

import ctypes
import logging
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .params import BY_NAME, SCENES, SLOTS, BadValue, Registry
from .tempo import CLOCK_MESSAGES
from .worker import Worker

log = logging.getLogger("mg-live")
CURVES = {"linear": lambda x: x, "exp": lambda x: x * x, "log": lambda x: x**0.5}


@dataclass
class CCBinding:
    control: int
    param: str
    min: float | None = None
    max: float | None = None
    curve: str = "linear"
    channel: int | None = None  # mido's 0–15 (a map file says 1–16, as controllers print it); None: any
    lsb: int | None = None  # 14-bit: the controller sends the low 7 bits on this CC
    slot: int | None = None  # for slot_weight
    scene: int | None = None  # a button for scene_save / scene_recall: which scene

    def value(self, fraction: float):
        p = BY_NAME[self.param]
        if p.choices:  # the knob's travel split evenly between the choices
            return p.choices[round(CURVES[self.curve](fraction) * (len(p.choices) - 1))]
        low = p.minimum if self.min is None else self.min
        high = p.maximum if self.max is None else self.max
        v = low + (high - low) * CURVES[self.curve](fraction)
        return [self.slot, v] if self.param == "slot_weight" else v


@dataclass
class NoteBinding:
    note: int
    param: str
    value: object = None  # prompt text, slot weight, …; actions take none
    slot: int | None = None
    channel: int | None = None
    scene: int | None = None  # scene_save / scene_recall: which scene


@dataclass
class MidiMap:
    """A controller's map. In the TOML file MIDI channels are 1–16, as controllers print them (absent: any
    channel); `melody_channel` is 1–16 or 0 for any; `[slots]` gives blend slots their prompts at start,
    so that slot-weight faders have something to blend in."""

    name: str = ""
    port: str = ""  # substring of the input port's name; empty: the first port
    cc: tuple = ()  # CCBindings (a tuple: MIDI-learn replaces it whole, never edits it in place)
    notes: tuple = ()  # NoteBindings
    melody_channel: int | None = None  # melody models: notes on this channel (mido 0–15; -1 any) are the melody
    slots: dict = field(default_factory=dict)  # slot → prompt

    @classmethod
    def load(cls, path: Path) -> "MidiMap":
        try:
            raw = tomllib.loads(path.read_text())
            cc = tuple(CCBinding(**_from_file(c)) for c in raw.get("cc", []))
            notes = tuple(NoteBinding(**_from_file(n)) for n in raw.get("note", []))
            melody = raw.get("melody_channel")
            if melody is not None and not (isinstance(melody, int) and 0 <= melody <= 16):
                raise TypeError(f"melody_channel {melody!r}: 1–16, or 0 for any")
            slots = {int(n): str(t) for n, t in raw.get("slots", {}).items()}
            mapping = cls(raw.get("name", ""), raw.get("port", ""), cc, notes,
                          None if melody is None else melody - 1 if melody else -1, slots)
        except (OSError, tomllib.TOMLDecodeError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{path}: not a MIDI map ({e})") from None  # AttributeError: a table where a list of them goes
        for binding in [*mapping.cc, *mapping.notes]:
            if binding.param not in BY_NAME:
                raise ValueError(f"{path}: unknown parameter {binding.param!r}")
            kind = BY_NAME[binding.param].kind
            if isinstance(binding, CCBinding) and (binding.curve not in CURVES or kind == "text"):
                raise ValueError(f"{path}: CC {binding.control} → {binding.param}: needs a number or action parameter "
                                 f"and a curve of {', '.join(CURVES)}")
            scene = getattr(binding, "scene", None)
            if binding.param.startswith("scene_") and not (isinstance(scene, int) and 1 <= scene <= SCENES):
                raise ValueError(f"{path}: {binding.param} needs a scene 1–{SCENES}, got {scene!r}")
        if any(not 1 <= n <= SLOTS for n in mapping.slots):
            raise ValueError(f"{path}: slots are 1–{SLOTS}")
        return mapping

    def save(self, path: Path) -> None:
        import tomli_w

        def clean(binding):
            out = {k: v for k, v in binding.__dict__.items() if v is not None}
            return out | ({"channel": out["channel"] + 1} if "channel" in out else {})

        melody = None if self.melody_channel is None else 0 if self.melody_channel < 0 else self.melody_channel + 1
        doc = {"name": self.name, "port": self.port, "melody_channel": melody,
               "slots": {str(n): t for n, t in self.slots.items()} or None,
               "cc": [clean(c) for c in self.cc], "note": [clean(n) for n in self.notes]}
        path.write_text(tomli_w.dumps({k: v for k, v in doc.items() if v not in ([], None)}))


def _from_file(binding: dict) -> dict:
    """A binding as a map file writes it (channel 1–16) → as mido numbers it (0–15)."""
    channel = binding.get("channel")
    if channel is None:
        return binding
    if not (isinstance(channel, int) and 1 <= channel <= 16):
        raise ValueError(f"channel {channel!r}: MIDI channels are 1–16")
    return binding | {"channel": channel - 1}


class MidiRouter:
    """Messages → `deliver(param, value)` through the registry; clock messages → `clock` (a MidiClock);
    also the MIDI-learn state."""

    def __init__(self, mapping: MidiMap, registry: Registry, deliver, clock=None):
        self.mapping, self.registry, self.deliver, self.clock = mapping, registry, deliver, clock
        self._msb: dict[tuple[int, int], int] = {}
        self._learn: tuple[str, int | None] | None = None  # (param, slot) the next CC moved binds to
        self.held: set[int] = set()  # notes held on the melody channel
        self.last_activity = 0.0

    @property
    def learning(self) -> str | None:
        learn = self._learn
        return learn[0] if learn else None

    def learn(self, param: str, slot: int | None = None) -> None:
        """The next CC moved gets bound to `param` (called from the console's thread: one assignment)."""
        if not BY_NAME[param].midi_target:
            raise ValueError(f"{param} is not a number parameter")
        self._learn = (param, slot)

    def handle(self, msg) -> None:
        if msg.type in CLOCK_MESSAGES:
            if self.clock is not None:
                self.clock.handle(msg)
            return
        self.last_activity = time.monotonic()
        if msg.type == "control_change":
            self._control(msg)
        elif msg.type in ("note_on", "note_off"):
            on = msg.type == "note_on" and msg.velocity > 0
            bound = [b for b in self.mapping.notes if b.note == msg.note and b.channel in (None, msg.channel)]
            for b in bound if on else []:
                if b.scene is not None:
                    self.deliver(b.param, b.scene)
                    continue
                value = [b.slot, b.value] if b.param in ("slot_weight", "slot_prompt") else b.value
                self._send(b.param, value)
            if not bound and self.mapping.melody_channel in (-1, msg.channel):
                self._melody(msg.note, on)

    def _melody(self, note: int, on: bool) -> None:
        """Held notes → the melody's pitch classes, sent whenever they change."""
        before = sorted({n % 12 for n in self.held})
        (self.held.add if on else self.held.discard)(note)
        now = sorted({n % 12 for n in self.held})
        if now != before:
            self.deliver("melody", now)

    def _control(self, msg) -> None:
        learn = self._learn
        if learn:
            # a new tuple, published in one assignment: the console may be saving or showing the map
            self.mapping.cc = tuple(c for c in self.mapping.cc if c.control != msg.control) + (
                CCBinding(msg.control, learn[0], slot=learn[1]),)
            log.info("MIDI learn: CC %d → %s", msg.control, learn[0])
            self._learn = None
        for b in self.mapping.cc:
            if b.channel not in (None, msg.channel):
                continue
            if b.control == msg.control and BY_NAME[b.param].kind == "action":
                if msg.value >= 64:  # a button: pressed
                    self.deliver(b.param, b.scene) if b.scene is not None else self._send(b.param, None)
            elif b.control == msg.control:
                self._msb[(msg.channel, b.control)] = msg.value
                self._send(b.param, b.value(msg.value / 127))  # coarse now; the LSB refines it
            elif b.lsb == msg.control:
                msb = self._msb.get((msg.channel, b.control), 0)
                self._send(b.param, b.value(((msb << 7) | msg.value) / 16383))

    def _send(self, param: str, value) -> None:
        try:
            raw = value[1] if isinstance(value, list) else value
            coerced = self.registry.coerce(param, raw)
        except BadValue:
            return
        self.deliver(param, [value[0], coerced] if isinstance(value, list) else coerced)


_alsa_handler = None


def quiet_alsa() -> None:
    """Where there is no ALSA sequencer (a container, a server) ALSA's library prints an error each time the
    ports are listed, about every second: give it an error handler that prints nothing (what matters is
    said once, in mg-live's own line)."""
    global _alsa_handler
    if _alsa_handler is not None:
        return
    try:
        asound = ctypes.CDLL("libasound.so.2")
    except OSError:
        return  # not Linux, or no ALSA: nothing prints
    handler = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    _alsa_handler = handler(lambda *_: None)
    asound.snd_lib_error_set_handler(_alsa_handler)


def port_lister():
    """The input ports' names, as a function. mido lists them by opening two new MIDI clients each time:
    with JACK that holds the GIL ~40 ms, and the graph change it causes waits on our own port's callback,
    which waits for the GIL: the engine stalled a second. One client, kept, lists them in microseconds."""
    import mido

    backend = mido.backend
    if backend.module.__name__ != "mido.backends.rtmidi":
        return backend.get_input_names
    import rtmidi

    try:
        lister = rtmidi.MidiIn(rtapi=getattr(rtmidi, "API_" + backend.api) if backend.api else rtmidi.API_UNSPECIFIED)
    except Exception:  # noqa: BLE001 - no MIDI system: mido's own call says so each time it is asked
        return backend.get_input_names
    return lister.get_ports


class MidiInput(Worker):
    """Reads a port in a thread; if the port disappears, keeps playing and reconnects when it is back.
    `open_input`/`input_names` default to mido's (python-rtmidi); tests pass a fake backend."""

    thread_name = "mg-midi-in"

    def __init__(self, router: MidiRouter, port: str = "", open_input=None, input_names=None, poll_s: float = 0.001,
                 check_s: float = 1.0):
        import mido

        super().__init__()
        self.router, self.wanted = router, port or router.mapping.port
        if input_names is None:
            quiet_alsa()
        self.open_input, self.input_names = open_input or mido.open_input, input_names or port_lister()
        self.poll_s, self.check_s = poll_s, check_s
        self.port_name: str | None = None
        self.connects = 0

    def _names(self) -> list[str] | None:
        try:
            return list(self.input_names())
        except Exception:  # noqa: BLE001 - a backend without a MIDI system has no ports
            return None

    def _find(self) -> str | None:
        return next((n for n in self._names() or [] if self.wanted.lower() in n.lower()), None)

    def announce(self) -> None:
        """One line at start: the port found, or what there is instead (mg-live waits for it either way)."""
        names = self._names()
        wanted = f"matching {self.wanted!r}" if self.wanted else "at all"
        if names is None:
            log.warning("MIDI: no MIDI system here (no input %s); playing on, checking for one now and then", wanted)
        elif not self._find():
            log.warning("MIDI: no input %s (found: %s); playing on, it is picked up when it appears", wanted,
                        ", ".join(names) or "none")

    def _run(self) -> None:
        while not self._stop.is_set():
            name = self._find()
            if name is None:
                self._stop.wait(self.check_s)
                continue
            try:
                port = self.open_input(name)
            except Exception as e:  # noqa: BLE001
                log.warning("MIDI: cannot open %s (%s); retrying", name, e)
                self._stop.wait(self.check_s)
                continue
            self.port_name, self.connects = name, self.connects + 1
            log.info("MIDI: listening on %s", name)
            self._read(port, name)
            port.close()
            self.port_name = None

    def _read(self, port, name: str) -> None:
        next_check = time.monotonic() + self.check_s
        while not self._stop.is_set():
            try:
                for msg in port.iter_pending():
                    self.router.handle(msg)
            except Exception as e:  # noqa: BLE001 - a vanished device errors in backend-specific ways
                log.warning("MIDI: %s failed (%s); reconnecting", name, e)
                return
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self.check_s
                if name not in (self.input_names() or []):
                    log.warning("MIDI: %s disappeared; playing on, reconnecting when it is back", name)
                    return
            time.sleep(self.poll_s)
