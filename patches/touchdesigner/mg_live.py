"""mg-live for TouchDesigner (generated from the mg-live parameter registry).

Scalars: a Constant CHOP whose channel names are these addresses (without the leading slash) into an
OSC Out CHOP (network address 127.0.0.1, port 9000); the CHOP sends each channel as its own
address. Text and actions: paste this into a Text DAT named `mg_live`, add an OSC Out DAT named
`oscout` on the same port, and call `mod.mg_live.prompt('...')` (e.g. from a Panel Execute DAT).
"""

# Constant CHOP channel names and ranges
CHANNELS = {
    'mg/cfg': (0.0, 15.0, 3.0),  # guidance scale: how strongly the prompt steers
    'mg/temperature': (0.05, 3.0, 1.0),  # sampling temperature: higher is wilder
    'mg/topk': (0, 2048, 250),  # sample among the k most likely tokens (0 off, 1 greedy)
    'mg/topp': (0.0, 1.0, 0.0),  # nucleus sampling mass (0 off)
    'mg/window': (2.0, 25.0, 10.0),  # seconds of past music kept when the decoder re-primes (the rest of its 30 s is new)
    'mg/morph': (0.0, 30.0, 2.0),  # seconds a new prompt takes to morph in
    'mg/seed': (0, 2147483647, 0),  # reseed the sampler
    'mg/slot/1/weight': (0.0, 1.0, 0.0),  # weight of blend slot N (a new slot is silent until weighted; morphs)
    'mg/bpm': (20.0, 300.0, 120.0),  # tempo of the timeline (a MIDI clock or Ableton Link, while it runs, sets it instead)
    'mg/tempo_prompt': (0, 1, 0),  # append the tempo to every prompt (", 124 bpm"): nudges the feel, not a lock
}

def prompt(value):
    """new prompt; morphs in over `morph` seconds"""
    op('oscout').sendOSC('/mg/prompt', [value])

def negative(value):
    """negative prompt, used in the guidance branch ("" clears)"""
    op('oscout').sendOSC('/mg/negative', [value])

def slot_prompt(value):
    """prompt of blend slot N (1–8)"""
    op('oscout').sendOSC('/mg/slot/1/prompt', [value])

def grid(value):
    """quantized changes: prompt, slot, scene and melody changes land on the next line of this grid, as heard"""
    op('oscout').sendOSC('/mg/quantize', [value])

def melody(value):
    """melody models: follow a recording's melody (a file in the session folder; "" clears)"""
    op('oscout').sendOSC('/mg/melody', [value])

def scene_save(n=1):
    """keep what plays now as scene N (prompts, slots, negative, sampling, melody, window; saved with the session)"""
    op('oscout').sendOSC(f'/mg/scene/{n}/save', [])

def scene_recall(n=1):
    """morph to scene N over `morph` seconds"""
    op('oscout').sendOSC(f'/mg/scene/{n}/recall', [])

def play():
    """resume after pause"""
    op('oscout').sendOSC('/mg/play', [])

def pause():
    """stop generating; the buffer plays out into silence"""
    op('oscout').sendOSC('/mg/pause', [])

def reset():
    """start the music over from nothing (the stream goes on)"""
    op('oscout').sendOSC('/mg/reset', [])

def record(value):
    """start recording to a file name in the session folder"""
    op('oscout').sendOSC('/mg/record', [value])

def record_stop():
    """stop recording"""
    op('oscout').sendOSC('/mg/record/stop', [])
