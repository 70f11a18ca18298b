"""Writes the patches in patches/ from the parameter registry (`python -m mg_live.live.patches`), so that Max,
Pure Data and TouchDesigner always speak exactly the registry's address space. A test checks that the
committed files are what this writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..engine.params import STATUS
from .params import PARAMS, Param

ROOT = Path(__file__).resolve().parent.parent / "patches"
SEND_PORT, REPLY_PORT = 9000, 9001


def controls() -> list[Param]:
    """Slot parameters appear once, for slot 1 (copy them for more slots)."""
    return [p for p in PARAMS if p.name != "quit"]


def address(p: Param) -> str:
    return p.osc.replace("/N/", "/1/")


# --- Max/MSP ---------------------------------------------------------------------------------------------

def max_patch(send_port: int = SEND_PORT, reply_port: int = REPLY_PORT) -> str:
    """Numbers: a number box into [prepend /mg/x]; texts: a text box whose words become one symbol; actions:
    a message box holding just the address (OSC with no argument, as mg-live's actions take it)."""
    boxes, lines = [], []

    def box(text, x, y, w=160, cls="newobj", inlets=1, outlets=1, **extra):
        ident = f"obj-{len(boxes) + 1}"
        boxes.append({"box": {"id": ident, "maxclass": cls, "text": text, "patching_rect": [x, y, w, 22],
                              "numinlets": inlets, "numoutlets": outlets, **extra}})
        return ident

    def wire(a, b, outlet=0, inlet=0):
        lines.append({"patchline": {"source": [a, outlet], "destination": [b, inlet]}})

    send = box(f"udpsend 127.0.0.1 {send_port}", 40, 40 + 34 * len(controls()), 180, outlets=0)
    box(f"mg-live: controls → OSC on port {send_port}; telemetry from --osc-reply 127.0.0.1:{reply_port}",
        40, 10, 600, cls="comment", outlets=0)
    for i, p in enumerate(controls()):
        y = 40 + 34 * i
        box(p.doc, 540, y, 420, cls="comment", outlets=0)
        if p.kind == "action":
            wire(box(address(p), 40, y, 130, cls="message", outlets=1), send)
            continue
        prepend = box(f"prepend {address(p)}", 360, y)
        wire(prepend, send)
        if p.kind in ("float", "int"):
            ui = box("", 40, y, 90, cls="flonum" if p.kind == "float" else "number", outlets=2,
                     minimum=p.minimum, maximum=p.maximum, parameter_enable=0)
            box(p.name, 140, y, 200, cls="comment", outlets=0)
            wire(ui, prepend)
        else:
            ui = box("", 40, y, 200, cls="textedit", outlets=4)
            route = box("route text", 250, y, 100, outlets=2)
            join = box("tosymbol", 250, y + 12, 100)  # the words back into one symbol: one OSC string
            wire(ui, route)
            wire(route, join)
            wire(join, prepend)
    top = 60 + 34 * len(controls())
    receive = box(f"udpreceive {reply_port}", 40, top, 180)
    route = box("route " + " ".join(f"/mg/status/{s}" for s in STATUS), 40, top + 34, 700, outlets=len(STATUS) + 1)
    wire(receive, route)
    for i, name in enumerate(STATUS):
        shown = box("", 40 + 110 * i, top + 68, 100, cls="flonum" if name != "prompt" else "message", outlets=2)
        box(name, 40 + 110 * i, top + 94, 100, cls="comment", outlets=0)
        wire(route, shown, outlet=i, inlet=0 if name != "prompt" else 1)
    patch = {"patcher": {"fileversion": 1, "appversion": {"major": 8, "minor": 5, "revision": 0},
                         "rect": [50, 50, 1000, top + 160], "boxes": boxes, "lines": lines}}
    return json.dumps(patch, indent=1) + "\n"


# --- Pure Data (vanilla 0.52+: oscformat → netsend -u -b) -------------------------------------------------

def pd_patch(send_port: int = SEND_PORT, reply_port: int = REPLY_PORT) -> str:
    """Each control has a receive name `mg-in-<name>` (drive it from anywhere in Pd, or headless with
    `pd -send`), texts are list boxes (type several words: mg-live joins them), and each telemetry value
    goes to `mg-status-<name>` as well as its box. The connection opens by itself when the patch loads."""
    out = [f"#N canvas 40 40 980 {120 + 34 * len(controls()) + 200} 12;"]
    n = 0

    def obj(line):
        nonlocal n
        out.append(line)
        n += 1
        return n - 1

    load = obj("#X obj 40 10 loadbang;")
    connect = obj(f"#X msg 140 10 connect 127.0.0.1 {send_port};")
    send = obj(f"#X obj 40 {60 + 34 * len(controls())} netsend -u -b;")
    wires = [(load, connect), (connect, send)]
    for i, p in enumerate(controls()):
        y = 50 + 34 * i
        parts = address(p).strip("/").split("/")
        fmt = obj(f"#X obj 400 {y} oscformat {' '.join(parts)};")
        wires.append((fmt, send))
        receive = f"mg-in-{p.name}"
        if p.kind in ("float", "int"):
            ui = obj(f"#X floatatom 40 {y} 8 {p.minimum:g} {p.maximum:g} 0 {p.name} {receive} - 0;")
        elif p.kind in ("text", "choice") or p.takes:
            ui = obj(f"#X listbox 40 {y} 30 0 0 0 {p.name} {receive} - 0;")
        else:  # an action: the address with no argument
            button = obj(f"#X msg 40 {y} {p.name};")
            hear = obj(f"#X obj 200 {y} r {receive};")
            ui = obj(f"#X msg 300 {y} list;")
            wires += [(button, ui), (hear, ui)]
        wires.append((ui, fmt))
    top = 100 + 34 * len(controls())
    receive = obj(f"#X obj 40 {top} netreceive -u -b {reply_port};")
    parse = obj(f"#X obj 40 {top + 30} oscparse;")
    trim = obj(f"#X obj 40 {top + 60} list trim;")  # oscparse makes a list; route wants the address first
    mg = obj(f"#X obj 40 {top + 90} route mg;")
    status = obj(f"#X obj 40 {top + 120} route status;")
    fields = obj(f"#X obj 40 {top + 150} route {' '.join(STATUS)};")
    wires += [(receive, parse), (parse, trim), (trim, mg), (mg, status), (status, fields)]
    for i, name in enumerate(STATUS):
        x, y = 40 + 110 * i, top + 180
        if name == "prompt":  # a string arrives as a symbol message: [symbol] makes it "symbol …"
            shown = obj(f"#X symbolatom {x} {y + 30} 24 0 0 0 {name} - mg-status-{name} 0;")
            wires += [(fields, obj(f"#X obj {x} {y} symbol;"), i), (n - 1, shown)]
        else:
            shown = obj(f"#X floatatom {x} {y} 8 0 0 0 {name} - mg-status-{name} 0;")
            wires.append((fields, shown, i))
    for wire in wires:
        a, b, outlet = wire if len(wire) == 3 else (*wire, 0)
        out.append(f"#X connect {a} {outlet} {b} 0;")
    return "\n".join(out) + "\n"


# --- TouchDesigner ---------------------------------------------------------------------------------------

def touchdesigner_script() -> str:
    scalars = [p for p in controls() if p.kind in ("float", "int")]
    lines = [
        '"""mg-live for TouchDesigner (generated from the mg-live parameter registry).',
        "",
        "Scalars: a Constant CHOP whose channel names are these addresses (without the leading slash) into an",
        f"OSC Out CHOP (network address 127.0.0.1, port {SEND_PORT}); the CHOP sends each channel as its own",
        "address. Text and actions: paste this into a Text DAT named `mg_live`, add an OSC Out DAT named",
        "`oscout` on the same port, and call `mod.mg_live.prompt('...')` (e.g. from a Panel Execute DAT).",
        '"""',
        "",
        "# Constant CHOP channel names and ranges",
        "CHANNELS = {",
    ]
    lines += [f"    {address(p)[1:]!r}: ({p.minimum!r}, {p.maximum!r}, {p.default!r}),  # {p.doc}" for p in scalars]
    lines += ["}", ""]
    for p in controls():
        if p.kind in ("float", "int"):
            continue
        arg = "value" if p.kind in ("text", "choice") or p.takes else ""
        call = f"[{arg}]" if arg else "[]"
        where = f"{address(p)!r}"
        if p.numbered and p.kind == "action":  # a scene: its number goes in the address
            arg, where = "n=1", "f" + repr(p.osc.replace("/N/", "/{n}/"))
        lines += [f"def {p.name}({arg}):", f'    """{p.doc}"""', f"    op('oscout').sendOSC({where}, {call})", ""]
    return "\n".join(lines).rstrip() + "\n"


FILES = {"max/mg-live.maxpat": max_patch, "pd/mg-live.pd": pd_patch, "touchdesigner/mg_live.py": touchdesigner_script}


def write(root: Path = ROOT) -> None:
    for name, make in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(make())


if __name__ == "__main__":
    write()
    sys.exit(0)
