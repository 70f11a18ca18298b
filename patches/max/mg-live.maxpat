{
 "patcher": {
  "fileversion": 1,
  "appversion": {
   "major": 8,
   "minor": 5,
   "revision": 0
  },
  "rect": [
   50,
   50,
   1000,
   968
  ],
  "boxes": [
   {
    "box": {
     "id": "obj-1",
     "maxclass": "newobj",
     "text": "udpsend 127.0.0.1 9000",
     "patching_rect": [
      40,
      788,
      180,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-2",
     "maxclass": "comment",
     "text": "mg-live: controls \u2192 OSC on port 9000; telemetry from --osc-reply 127.0.0.1:9001",
     "patching_rect": [
      40,
      10,
      600,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-3",
     "maxclass": "comment",
     "text": "new prompt; morphs in over `morph` seconds",
     "patching_rect": [
      540,
      40,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-4",
     "maxclass": "newobj",
     "text": "prepend /mg/prompt",
     "patching_rect": [
      360,
      40,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-5",
     "maxclass": "textedit",
     "text": "",
     "patching_rect": [
      40,
      40,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 4
    }
   },
   {
    "box": {
     "id": "obj-6",
     "maxclass": "newobj",
     "text": "route text",
     "patching_rect": [
      250,
      40,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-7",
     "maxclass": "newobj",
     "text": "tosymbol",
     "patching_rect": [
      250,
      52,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-8",
     "maxclass": "comment",
     "text": "negative prompt, used in the guidance branch (\"\" clears)",
     "patching_rect": [
      540,
      74,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-9",
     "maxclass": "newobj",
     "text": "prepend /mg/negative",
     "patching_rect": [
      360,
      74,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-10",
     "maxclass": "textedit",
     "text": "",
     "patching_rect": [
      40,
      74,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 4
    }
   },
   {
    "box": {
     "id": "obj-11",
     "maxclass": "newobj",
     "text": "route text",
     "patching_rect": [
      250,
      74,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-12",
     "maxclass": "newobj",
     "text": "tosymbol",
     "patching_rect": [
      250,
      86,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-13",
     "maxclass": "comment",
     "text": "guidance scale: how strongly the prompt steers",
     "patching_rect": [
      540,
      108,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-14",
     "maxclass": "newobj",
     "text": "prepend /mg/cfg",
     "patching_rect": [
      360,
      108,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-15",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      108,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0.0,
     "maximum": 15.0,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-16",
     "maxclass": "comment",
     "text": "cfg",
     "patching_rect": [
      140,
      108,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-17",
     "maxclass": "comment",
     "text": "sampling temperature: higher is wilder",
     "patching_rect": [
      540,
      142,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-18",
     "maxclass": "newobj",
     "text": "prepend /mg/temperature",
     "patching_rect": [
      360,
      142,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-19",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      142,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0.05,
     "maximum": 3.0,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-20",
     "maxclass": "comment",
     "text": "temperature",
     "patching_rect": [
      140,
      142,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-21",
     "maxclass": "comment",
     "text": "sample among the k most likely tokens (0 off, 1 greedy)",
     "patching_rect": [
      540,
      176,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-22",
     "maxclass": "newobj",
     "text": "prepend /mg/topk",
     "patching_rect": [
      360,
      176,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-23",
     "maxclass": "number",
     "text": "",
     "patching_rect": [
      40,
      176,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0,
     "maximum": 2048,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-24",
     "maxclass": "comment",
     "text": "top_k",
     "patching_rect": [
      140,
      176,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-25",
     "maxclass": "comment",
     "text": "nucleus sampling mass (0 off)",
     "patching_rect": [
      540,
      210,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-26",
     "maxclass": "newobj",
     "text": "prepend /mg/topp",
     "patching_rect": [
      360,
      210,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-27",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      210,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0.0,
     "maximum": 1.0,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-28",
     "maxclass": "comment",
     "text": "top_p",
     "patching_rect": [
      140,
      210,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-29",
     "maxclass": "comment",
     "text": "seconds of past music kept when the decoder re-primes (the rest of its 30 s is new)",
     "patching_rect": [
      540,
      244,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-30",
     "maxclass": "newobj",
     "text": "prepend /mg/window",
     "patching_rect": [
      360,
      244,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-31",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      244,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 2.0,
     "maximum": 25.0,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-32",
     "maxclass": "comment",
     "text": "window",
     "patching_rect": [
      140,
      244,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-33",
     "maxclass": "comment",
     "text": "seconds a new prompt takes to morph in",
     "patching_rect": [
      540,
      278,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-34",
     "maxclass": "newobj",
     "text": "prepend /mg/morph",
     "patching_rect": [
      360,
      278,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-35",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      278,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0.0,
     "maximum": 30.0,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-36",
     "maxclass": "comment",
     "text": "morph",
     "patching_rect": [
      140,
      278,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-37",
     "maxclass": "comment",
     "text": "reseed the sampler",
     "patching_rect": [
      540,
      312,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-38",
     "maxclass": "newobj",
     "text": "prepend /mg/seed",
     "patching_rect": [
      360,
      312,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-39",
     "maxclass": "number",
     "text": "",
     "patching_rect": [
      40,
      312,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0,
     "maximum": 2147483647,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-40",
     "maxclass": "comment",
     "text": "seed",
     "patching_rect": [
      140,
      312,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-41",
     "maxclass": "comment",
     "text": "prompt of blend slot N (1\u20138)",
     "patching_rect": [
      540,
      346,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-42",
     "maxclass": "newobj",
     "text": "prepend /mg/slot/1/prompt",
     "patching_rect": [
      360,
      346,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-43",
     "maxclass": "textedit",
     "text": "",
     "patching_rect": [
      40,
      346,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 4
    }
   },
   {
    "box": {
     "id": "obj-44",
     "maxclass": "newobj",
     "text": "route text",
     "patching_rect": [
      250,
      346,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-45",
     "maxclass": "newobj",
     "text": "tosymbol",
     "patching_rect": [
      250,
      358,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-46",
     "maxclass": "comment",
     "text": "weight of blend slot N (a new slot is silent until weighted; morphs)",
     "patching_rect": [
      540,
      380,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-47",
     "maxclass": "newobj",
     "text": "prepend /mg/slot/1/weight",
     "patching_rect": [
      360,
      380,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-48",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      380,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0.0,
     "maximum": 1.0,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-49",
     "maxclass": "comment",
     "text": "slot_weight",
     "patching_rect": [
      140,
      380,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-50",
     "maxclass": "comment",
     "text": "tempo of the timeline (a MIDI clock or Ableton Link, while it runs, sets it instead)",
     "patching_rect": [
      540,
      414,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-51",
     "maxclass": "newobj",
     "text": "prepend /mg/bpm",
     "patching_rect": [
      360,
      414,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-52",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      414,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 20.0,
     "maximum": 300.0,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-53",
     "maxclass": "comment",
     "text": "bpm",
     "patching_rect": [
      140,
      414,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-54",
     "maxclass": "comment",
     "text": "quantized changes: prompt, slot, scene and melody changes land on the next line of this grid, as heard",
     "patching_rect": [
      540,
      448,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-55",
     "maxclass": "newobj",
     "text": "prepend /mg/quantize",
     "patching_rect": [
      360,
      448,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-56",
     "maxclass": "textedit",
     "text": "",
     "patching_rect": [
      40,
      448,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 4
    }
   },
   {
    "box": {
     "id": "obj-57",
     "maxclass": "newobj",
     "text": "route text",
     "patching_rect": [
      250,
      448,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-58",
     "maxclass": "newobj",
     "text": "tosymbol",
     "patching_rect": [
      250,
      460,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-59",
     "maxclass": "comment",
     "text": "append the tempo to every prompt (\", 124 bpm\"): nudges the feel, not a lock",
     "patching_rect": [
      540,
      482,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-60",
     "maxclass": "newobj",
     "text": "prepend /mg/tempo_prompt",
     "patching_rect": [
      360,
      482,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-61",
     "maxclass": "number",
     "text": "",
     "patching_rect": [
      40,
      482,
      90,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2,
     "minimum": 0,
     "maximum": 1,
     "parameter_enable": 0
    }
   },
   {
    "box": {
     "id": "obj-62",
     "maxclass": "comment",
     "text": "tempo_prompt",
     "patching_rect": [
      140,
      482,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-63",
     "maxclass": "comment",
     "text": "melody models: follow a recording's melody (a file in the session folder; \"\" clears)",
     "patching_rect": [
      540,
      516,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-64",
     "maxclass": "newobj",
     "text": "prepend /mg/melody",
     "patching_rect": [
      360,
      516,
      160,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-65",
     "maxclass": "textedit",
     "text": "",
     "patching_rect": [
      40,
      516,
      200,
      22
     ],
     "numinlets": 1,
     "numoutlets": 4
    }
   },
   {
    "box": {
     "id": "obj-66",
     "maxclass": "newobj",
     "text": "route text",
     "patching_rect": [
      250,
      516,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-67",
     "maxclass": "newobj",
     "text": "tosymbol",
     "patching_rect": [
      250,
      528,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-68",
     "maxclass": "comment",
     "text": "keep what plays now as scene N (prompts, slots, negative, sampling, melody, window; saved with the session)",
     "patching_rect": [
      540,
      550,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-69",
     "maxclass": "message",
     "text": "/mg/scene/1/save",
     "patching_rect": [
      40,
      550,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-70",
     "maxclass": "comment",
     "text": "morph to scene N over `morph` seconds",
     "patching_rect": [
      540,
      584,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-71",
     "maxclass": "message",
     "text": "/mg/scene/1/recall",
     "patching_rect": [
      40,
      584,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-72",
     "maxclass": "comment",
     "text": "resume after pause",
     "patching_rect": [
      540,
      618,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-73",
     "maxclass": "message",
     "text": "/mg/play",
     "patching_rect": [
      40,
      618,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-74",
     "maxclass": "comment",
     "text": "stop generating; the buffer plays out into silence",
     "patching_rect": [
      540,
      652,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-75",
     "maxclass": "message",
     "text": "/mg/pause",
     "patching_rect": [
      40,
      652,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-76",
     "maxclass": "comment",
     "text": "start the music over from nothing (the stream goes on)",
     "patching_rect": [
      540,
      686,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-77",
     "maxclass": "message",
     "text": "/mg/reset",
     "patching_rect": [
      40,
      686,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-78",
     "maxclass": "comment",
     "text": "start recording to a file name in the session folder",
     "patching_rect": [
      540,
      720,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-79",
     "maxclass": "message",
     "text": "/mg/record",
     "patching_rect": [
      40,
      720,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-80",
     "maxclass": "comment",
     "text": "stop recording",
     "patching_rect": [
      540,
      754,
      420,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-81",
     "maxclass": "message",
     "text": "/mg/record/stop",
     "patching_rect": [
      40,
      754,
      130,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-82",
     "maxclass": "newobj",
     "text": "udpreceive 9001",
     "patching_rect": [
      40,
      808,
      180,
      22
     ],
     "numinlets": 1,
     "numoutlets": 1
    }
   },
   {
    "box": {
     "id": "obj-83",
     "maxclass": "newobj",
     "text": "route /mg/status/rtf /mg/status/buffer /mg/status/underruns /mg/status/frame /mg/status/latency /mg/status/onset /mg/status/worst_frame /mg/status/reprimes /mg/status/ignored /mg/status/prompt /mg/status/bpm /mg/status/beat /mg/status/bar",
     "patching_rect": [
      40,
      842,
      700,
      22
     ],
     "numinlets": 1,
     "numoutlets": 14
    }
   },
   {
    "box": {
     "id": "obj-84",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      40,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-85",
     "maxclass": "comment",
     "text": "rtf",
     "patching_rect": [
      40,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-86",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      150,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-87",
     "maxclass": "comment",
     "text": "buffer",
     "patching_rect": [
      150,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-88",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      260,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-89",
     "maxclass": "comment",
     "text": "underruns",
     "patching_rect": [
      260,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-90",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      370,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-91",
     "maxclass": "comment",
     "text": "frame",
     "patching_rect": [
      370,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-92",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      480,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-93",
     "maxclass": "comment",
     "text": "latency",
     "patching_rect": [
      480,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-94",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      590,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-95",
     "maxclass": "comment",
     "text": "onset",
     "patching_rect": [
      590,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-96",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      700,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-97",
     "maxclass": "comment",
     "text": "worst_frame",
     "patching_rect": [
      700,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-98",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      810,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-99",
     "maxclass": "comment",
     "text": "reprimes",
     "patching_rect": [
      810,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-100",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      920,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-101",
     "maxclass": "comment",
     "text": "ignored",
     "patching_rect": [
      920,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-102",
     "maxclass": "message",
     "text": "",
     "patching_rect": [
      1030,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-103",
     "maxclass": "comment",
     "text": "prompt",
     "patching_rect": [
      1030,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-104",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      1140,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-105",
     "maxclass": "comment",
     "text": "bpm",
     "patching_rect": [
      1140,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-106",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      1250,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-107",
     "maxclass": "comment",
     "text": "beat",
     "patching_rect": [
      1250,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   },
   {
    "box": {
     "id": "obj-108",
     "maxclass": "flonum",
     "text": "",
     "patching_rect": [
      1360,
      876,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 2
    }
   },
   {
    "box": {
     "id": "obj-109",
     "maxclass": "comment",
     "text": "bar",
     "patching_rect": [
      1360,
      902,
      100,
      22
     ],
     "numinlets": 1,
     "numoutlets": 0
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "obj-4",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-5",
      0
     ],
     "destination": [
      "obj-6",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-6",
      0
     ],
     "destination": [
      "obj-7",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-7",
      0
     ],
     "destination": [
      "obj-4",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-9",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-10",
      0
     ],
     "destination": [
      "obj-11",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-11",
      0
     ],
     "destination": [
      "obj-12",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-12",
      0
     ],
     "destination": [
      "obj-9",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-14",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-15",
      0
     ],
     "destination": [
      "obj-14",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-18",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-19",
      0
     ],
     "destination": [
      "obj-18",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-22",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-23",
      0
     ],
     "destination": [
      "obj-22",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-26",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-27",
      0
     ],
     "destination": [
      "obj-26",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-30",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-31",
      0
     ],
     "destination": [
      "obj-30",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-34",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-35",
      0
     ],
     "destination": [
      "obj-34",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-38",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-39",
      0
     ],
     "destination": [
      "obj-38",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-42",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-43",
      0
     ],
     "destination": [
      "obj-44",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-44",
      0
     ],
     "destination": [
      "obj-45",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-45",
      0
     ],
     "destination": [
      "obj-42",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-47",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-48",
      0
     ],
     "destination": [
      "obj-47",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-51",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-52",
      0
     ],
     "destination": [
      "obj-51",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-55",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-56",
      0
     ],
     "destination": [
      "obj-57",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-57",
      0
     ],
     "destination": [
      "obj-58",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-58",
      0
     ],
     "destination": [
      "obj-55",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-60",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-61",
      0
     ],
     "destination": [
      "obj-60",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-64",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-65",
      0
     ],
     "destination": [
      "obj-66",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-66",
      0
     ],
     "destination": [
      "obj-67",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-67",
      0
     ],
     "destination": [
      "obj-64",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-69",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-71",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-73",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-75",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-77",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-79",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-81",
      0
     ],
     "destination": [
      "obj-1",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-82",
      0
     ],
     "destination": [
      "obj-83",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      0
     ],
     "destination": [
      "obj-84",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      1
     ],
     "destination": [
      "obj-86",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      2
     ],
     "destination": [
      "obj-88",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      3
     ],
     "destination": [
      "obj-90",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      4
     ],
     "destination": [
      "obj-92",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      5
     ],
     "destination": [
      "obj-94",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      6
     ],
     "destination": [
      "obj-96",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      7
     ],
     "destination": [
      "obj-98",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      8
     ],
     "destination": [
      "obj-100",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      9
     ],
     "destination": [
      "obj-102",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      10
     ],
     "destination": [
      "obj-104",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      11
     ],
     "destination": [
      "obj-106",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-83",
      12
     ],
     "destination": [
      "obj-108",
      0
     ]
    }
   }
  ]
 }
}
