"""The `mg-live` console (Textual): what is playing, every parameter and blend slot, the buffer, how the
frames keep up, what was refused, and keys to steer.

Its rows come from the parameter registry; every key goes through the same `Controls` as OSC and MIDI.
"""

from __future__ import annotations

import logging
import threading
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static

from .params import PARAMS, SCENES, SLOTS

ROWS = [p for p in PARAMS if p.kind in ("float", "int", "text", "choice") and not p.name.startswith("slot_")]
SLOT_ROWS = [f"slot {n}" for n in range(1, SLOTS + 1)]
NUDGES = 40  # a nudge moves a parameter by 1/40 of its range (ints by at least 1), a slot weight by 0.05


class ToMessageLine(logging.Handler):
    """While the console runs, what mg-live logs goes to its message line, not over the screen."""

    def __init__(self, console: "Console"):
        super().__init__(logging.INFO)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        self.console.message = record.getMessage()


class Console(App):
    CSS = """
    #status { height: auto; padding: 0 1; }
    #meters { height: 1; padding: 0 1; }
    #buffer-label { width: 26; }
    #buffer { width: 1fr; }
    #prompt { dock: bottom; }
    DataTable { height: 1fr; }
    """
    TITLE = "mg-live"
    BINDINGS = [
        Binding("p", "edit_prompt", "prompt"),
        Binding("enter", "edit_row", "edit text", show=False),
        Binding("minus", "nudge(-1)", "− value"),
        Binding("plus,equals_sign", "nudge(1)", "+ value"),
        Binding("space", "pause", "pause/play"),
        Binding("r", "record", "record"),
        Binding("l", "learn", "MIDI-learn"),
        Binding("s", "save_map", "save MIDI map"),
        Binding("w", "save_scene", "save scene"),
        *[Binding(str(n), f"recall_scene({n})", f"scene {n}", show=n == 1) for n in range(1, 10)],
        Binding("escape", "cancel", "cancel", show=False),
        Binding("q", "quit_all", "quit"),
        Binding("ctrl+c", "quit_all", "quit", show=False, priority=True),
    ]

    def __init__(self, engine, controls, player: threading.Thread, midi=None, osc=None, midi_map_path=None):
        super().__init__()
        self.engine, self.controls, self.player = engine, controls, player
        self.midi, self.osc, self.midi_map_path = midi, osc, midi_map_path
        self.recording: str | None = None
        self.message = ""
        self.editing: str = "prompt"  # what the text box sets: prompt, negative, melody, "slot N", or "scene"
        self.requested: dict[str, float] = {}  # nudges build on what was asked, not on a value still gliding
        self.shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="status")
        with Horizontal(id="meters"):
            yield Static("buffer", id="buffer-label")
            yield ProgressBar(total=100, show_eta=False, show_percentage=False, id="buffer")
        yield DataTable(id="params", cursor_type="row")
        yield Input(placeholder="type, Enter sends (Esc cancels)", id="prompt")
        yield Footer()

    def run(self, *args, **kwargs):
        root = logging.getLogger()
        saved, root.handlers = root.handlers, [ToMessageLine(self)]
        try:
            return super().run(*args, **kwargs)
        finally:
            root.handlers = saved

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("parameter", key="parameter", width=14)
        table.add_column("value", key="value", width=44)
        table.add_column("range", key="range", width=14)
        table.add_column("what it does", key="doc")
        for p in ROWS:
            table.add_row(p.name, "", p.range_text, p.doc, key=p.name)
        for name in SLOT_ROWS:
            table.add_row(name, "", "weight 0–1", "a prompt blended in by its weight (Enter: its prompt, −/+: weight)",
                          key=name)
        self.query_one("#prompt", Input).display = False
        self.set_interval(0.25, self.refresh_view)
        table.focus()

    def refresh_view(self) -> None:
        if not self.player.is_alive():  # the performance ended (--seconds, /mg/quit, q)
            self.exit()
            return
        e = self.engine
        status, settings, rate = e.status(), e.settings(), e.sink.sample_rate
        ignored = self.controls.ignored()["ignored"]
        activity = []
        if self.osc:
            activity.append(f"OSC {self.osc.received} msgs" + (" •" if time.monotonic() - self.osc.last_message < 0.5 else ""))
        if self.midi:
            port = self.midi.port_name or "waiting for port"
            active = time.monotonic() - self.midi.router.last_activity < 0.5
            learning = self.midi.router.learning
            activity.append(f"MIDI {port}" + (" •" if active else "") + (f" learning {learning}…" if learning else ""))
        record = f"● REC {self.recording}" if self.recording else "not recording"
        timeline = e.timeline
        tempo = (f"bar {status['bar']} beat {1 + status['beat'] % 4:.0f}   {status['bpm']:.1f} bpm ({timeline.source}"
                 + ("" if timeline.running else ", stopped") + f")   grid {e.grid}")
        latency = f"{status['latency']:.0f} ms" if e.metrics.latencies_ms else "–"
        self.query_one("#status", Static).update(
            f"[b]{settings['prompt']}[/b]" + (f"   (negative: {settings['negative']})" if settings["negative"] else "")
            + "\n" + f"{e.metrics.samples / rate:7.1f} s   rtf {status['rtf']:.2f}   underruns {status['underruns']}   "
            + f"worst frame {status['worst_frame']:.1f} ms   latency {latency}   reprimes {status['reprimes']}   "
            + f"ignored input {ignored}   {'PAUSED   ' if e.paused else ''}{record}   {'   '.join(activity)}\n"
            + tempo + "\n"
            + self.message)
        target = e.sink.target / rate * 1000
        self.query_one("#buffer-label", Static).update(f"buffer {status['buffer'] * 1000:4.0f} / {target:3.0f} ms")
        self.query_one("#buffer", ProgressBar).update(progress=min(100, 100 * e.sink.ring.fill / max(1, e.sink.target)))
        table = self.query_one(DataTable)
        slots = {int(n): (t, w) for n, (t, w) in settings["slots"].items()}
        values = {p.name: str(settings.get(p.name, "")) for p in ROWS}
        values |= {name: (f"{slots[n][0]} ×{slots[n][1]:g}" if n in slots else "–")
                   for n, name in enumerate(SLOT_ROWS, start=1)}
        for key, value in values.items():
            if self.shown.get(key) != value:  # redraw only what changed: the console must stay light
                table.update_cell(key, "value", value)
                self.shown[key] = value

    def selected(self) -> str:
        row = self.query_one(DataTable).cursor_row
        return (ROWS[row].name if row < len(ROWS) else SLOT_ROWS[row - len(ROWS)])

    def open_box(self, editing: str) -> None:
        self.editing = editing
        box = self.query_one("#prompt", Input)
        box.display, box.value = True, ""
        box.placeholder = f"{editing}: type, Enter sends (Esc cancels)"
        box.focus()

    def action_edit_prompt(self) -> None:
        self.open_box("prompt")

    def action_edit_row(self) -> None:
        name = self.selected()
        if name.startswith("slot ") or name in ("prompt", "negative", "melody"):
            self.open_box(name)

    def action_cancel(self) -> None:
        box = self.query_one("#prompt", Input)
        box.display = False
        self.query_one(DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if self.editing == "scene":
            if text.isdigit() and 1 <= int(text) <= SCENES:
                self.controls("scene_save", int(text), "console")
                self.message = f"scene {text} saved"
            else:
                self.message = f"a scene is numbered 1–{SCENES}"
            self.action_cancel()
            return
        if self.editing.startswith("slot "):
            self.controls("slot_prompt", [int(self.editing.split()[1]), text], "console")
        elif text or self.editing != "prompt":
            self.controls(self.editing, text, "console")
        self.message = f"{self.editing} → {text or '(cleared)'}"
        self.action_cancel()

    def action_nudge(self, direction: int) -> None:
        name = self.selected()
        if name.startswith("slot "):
            n = int(name.split()[1])
            current = self.requested.get(name, self.engine.settings()["slots"].get(str(n), ["", 0.0])[1])
            self.requested[name] = value = round(min(1.0, max(0.0, current + 0.05 * direction)), 2)
            self.controls("slot_weight", [n, value], "console")
            return
        p = next(p for p in ROWS if p.name == name)
        if p.choices:  # the next or previous choice
            current = p.choices.index(self.engine.settings().get(p.name, p.default))
            self.controls(p.name, p.choices[min(max(current + direction, 0), len(p.choices) - 1)], "console")
            return
        if p.kind not in ("float", "int"):
            return
        current = self.requested.get(p.name, self.engine.settings().get(p.name, p.default))
        step = (p.maximum - p.minimum) / NUDGES
        value = current + direction * (max(1, round(step)) if p.kind == "int" else step)
        value = min(max(value, p.minimum), p.maximum)
        value = round(value) if p.kind == "int" else round(value, 4)
        self.requested[p.name] = value
        self.controls(p.name, value, "console")

    def action_save_scene(self) -> None:
        self.open_box("scene")
        self.query_one("#prompt", Input).placeholder = f"save as scene number (1–{SCENES}), Enter saves (Esc cancels)"

    def action_recall_scene(self, n: int) -> None:
        self.controls("scene_recall", n, "console")
        self.message = f"scene {n}"

    def action_pause(self) -> None:
        self.controls("play" if self.engine.paused else "pause", None, "console")

    def action_record(self) -> None:
        if self.recording:
            self.controls("record_stop", None, "console")
            self.message, self.recording = f"saved {self.recording}", None
        else:
            self.recording = time.strftime("take-%Y%m%d-%H%M%S.wav")
            self.controls("record", self.recording, "console")

    def action_learn(self) -> None:
        name = self.selected()
        param = "slot_weight" if name.startswith("slot ") else name
        if not self.midi:
            self.message = "MIDI-learn needs a MIDI input (--midi-in)"
        elif param != "slot_weight" and not next(p for p in ROWS if p.name == name).midi_target:
            self.message = f"{name} is not a number; pick a number parameter to learn"
        else:
            self.midi.router.learn(param, int(name.split()[1]) if param == "slot_weight" else None)
            self.message = f"move a knob to bind it to {name}"

    def action_save_map(self) -> None:
        if not self.midi:
            self.message = "no MIDI input"
            return
        from pathlib import Path

        path = Path(self.midi_map_path or "midi-map.toml")
        try:
            self.midi.router.mapping.save(path)
            self.message = f"MIDI map saved to {path}"
        except OSError as e:
            self.message = f"could not save the MIDI map to {path}: {e.strerror}"

    def action_quit_all(self) -> None:
        self.controls("quit", None, "console")
