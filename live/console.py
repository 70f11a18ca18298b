"""The `mg-live` console (Textual): what is playing, every parameter, the buffer, and keys to steer.

Its rows come from the parameter registry; every key goes through the same `Controls` as OSC and MIDI.
"""

from __future__ import annotations

import threading
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Static

from .params import PARAMS

ROWS = [p for p in PARAMS if p.kind in ("float", "int", "text") and not p.name.startswith("slot_")]
NUDGES = 40  # a nudge moves a parameter by 1/40 of its range (ints by at least 1)


class Console(App):
    CSS = """
    #status { height: 3; padding: 0 1; }
    #meters { height: 3; padding: 0 1; }
    #prompt { dock: bottom; }
    DataTable { height: 1fr; }
    """
    TITLE = "mg-live"
    BINDINGS = [
        Binding("p", "edit_prompt", "prompt"),
        Binding("minus", "nudge(-1)", "− value"),
        Binding("plus,equals_sign", "nudge(1)", "+ value"),
        Binding("space", "pause", "pause/play"),
        Binding("r", "record", "record"),
        Binding("l", "learn", "MIDI-learn"),
        Binding("s", "save_map", "save MIDI map"),
        Binding("escape", "cancel", "cancel", show=False),
        Binding("q", "quit_all", "quit"),
    ]

    def __init__(self, engine, controls, player: threading.Thread, midi=None, osc=None, midi_map_path=None):
        super().__init__()
        self.engine, self.controls, self.player = engine, controls, player
        self.midi, self.osc, self.midi_map_path = midi, osc, midi_map_path
        self.recording: str | None = None
        self.message = ""
        self.requested: dict[str, float] = {}  # nudges build on what was asked, not on a value still gliding
        self.shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="status")
        with Horizontal(id="meters"):
            yield Static("buffer ", classes="label")
            yield ProgressBar(total=100, show_eta=False, id="buffer")
        yield DataTable(id="params", cursor_type="row")
        yield Input(placeholder="type a prompt, Enter sends it (Esc cancels)", id="prompt")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in ("parameter", "value", "range", "what it does"):
            table.add_column(column, key=column)
        for p in ROWS:
            rng = p.range_text
            table.add_row(p.name, "", rng, p.doc, key=p.name)
        self.query_one("#prompt", Input).display = False
        self.set_interval(0.25, self.refresh_view)
        table.focus()

    def refresh_view(self) -> None:
        if not self.player.is_alive():  # the performance ended (--seconds, /mg/quit, q)
            self.exit()
            return
        e = self.engine
        m, rate, settings = e.metrics, e.sink.sample_rate, e.settings()
        latencies = sorted(m.latencies_ms)
        latency = f"{latencies[len(latencies) // 2]:.0f} ms" if latencies else "–"
        slots = "  ".join(f"[{n}] {t} ×{w:g}" for n, (t, w) in settings["slots"].items())
        activity = []
        if self.osc:
            activity.append(f"OSC {self.osc.received} msgs" + (" •" if time.monotonic() - self.osc.last_message < 0.5 else ""))
        if self.midi:
            port = self.midi.port_name or "waiting for port"
            active = time.monotonic() - self.midi.router.last_activity < 0.5
            activity.append(f"MIDI {port}" + (" •" if active else "") + (f" learning {self.midi.router.learning}…"
                                                                       if self.midi.router.learning else ""))
        record = f"● REC {self.recording}" if self.recording else "not recording"
        self.query_one("#status", Static).update(
            f"[b]{settings['prompt']}[/b]" + (f"   slots: {slots}" if slots else "")
            + (f"   negative: {settings['negative']}" if settings["negative"] else "") + "\n"
            + f"{m.samples / rate:7.1f} s   rtf {m.rtf(rate):.2f}   underruns {e.sink.underruns}   latency {latency}   "
            + f"reprimes {m.reprimes}   {'PAUSED   ' if e.paused else ''}{record}   {'   '.join(activity)}\n"
            + self.message)
        fill = min(100, 100 * e.sink.ring.fill / max(1, e.sink.target))
        self.query_one("#buffer", ProgressBar).update(progress=fill)
        table = self.query_one(DataTable)
        for p in ROWS:
            value = str(settings.get(p.name, ""))
            if self.shown.get(p.name) != value:  # redraw only what changed: the console must stay light
                table.update_cell(p.name, "value", value)
                self.shown[p.name] = value

    def selected(self):
        return ROWS[self.query_one(DataTable).cursor_row]

    def action_edit_prompt(self) -> None:
        box = self.query_one("#prompt", Input)
        box.display = True
        box.value = ""
        box.focus()

    def action_cancel(self) -> None:
        box = self.query_one("#prompt", Input)
        box.display = False
        self.query_one(DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.controls("prompt", event.value.strip(), "console")
            self.message = f"prompt → {event.value.strip()}"
        self.action_cancel()

    def action_nudge(self, direction: int) -> None:
        p = self.selected()
        if p.kind not in ("float", "int"):
            return
        current = self.requested.get(p.name, self.engine.settings().get(p.name, p.default))
        step = (p.maximum - p.minimum) / NUDGES
        value = current + direction * (max(1, round(step)) if p.kind == "int" else step)
        value = min(max(value, p.minimum), p.maximum)
        value = round(value) if p.kind == "int" else round(value, 4)
        self.requested[p.name] = value
        self.controls(p.name, value, "console")

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
        p = self.selected()
        if not self.midi:
            self.message = "MIDI-learn needs a MIDI input (--midi-in)"
        elif not p.midi_target:
            self.message = f"{p.name} is not a number; pick a number parameter to learn"
        else:
            self.midi.router.learn(p.name)
            self.message = f"move a knob to bind it to {p.name}"

    def action_save_map(self) -> None:
        if not self.midi:
            self.message = "no MIDI input"
            return
        from pathlib import Path

        path = Path(self.midi_map_path or "midi-map.toml")
        self.midi.router.mapping.save(path)
        self.message = f"MIDI map saved to {path}"

    def action_quit_all(self) -> None:
        self.controls("quit", None, "console")
