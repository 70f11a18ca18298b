"""`mg-live`: play MusicGen endlessly, steered while it plays (OSC, MIDI, console), or re-render a logged
performance offline (`--replay`)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

log = logging.getLogger("mg-live")

from ..engine.audio import (AudioUnavailable, ClockSink, JackSink, Recorder, SoundDeviceSink, UnpacedSink,
                            output_devices)
from ..engine.cli import Parser, add_model_arguments, add_registry_argument, add_sampling_arguments, positive, sampling_from
from ..engine.generate import read_audio
from ..engine.chroma import Melody
from ..engine.generation import codes_from_audio
from ..engine.loading import load
from ..engine.prepare import mlx_thread
from ..engine.sampling import SamplingParams
from ..engine.streaming import StreamingEngine, frames_for
from ..engine.tempo import Timeline
from ..engine.weights import CheckpointError

from .params import BY_NAME, BadValue, Registry
from .scenes import Scenes

DEFAULT_BUFFER_MS = 100


def parse_args(argv):
    parser = Parser(prog="mg-live", description="Play MusicGen live, endlessly.")
    add_model_arguments(parser, default_model=None)
    parser.add_argument("--prompt", default="warm analog synth pad with slow drums")
    parser.add_argument("--seconds", type=positive(), help="stop cleanly after this much audio (default: run until Ctrl-C)")
    parser.add_argument("--no-audio", action="store_true", help="no sound card: pace by the wall clock")
    parser.add_argument("--buffer-ms", type=positive(), default=DEFAULT_BUFFER_MS,
                        help="the most audio generation may run ahead of the ear (the adaptive buffer's ceiling)")
    parser.add_argument("--fixed-buffer", action="store_true", help="keep the buffer at --buffer-ms (no adapting)")
    add_registry_argument(parser, "window")
    add_registry_argument(parser, "morph")
    add_registry_argument(parser, "bpm")
    add_registry_argument(parser, "grid")
    parser.add_argument("--tempo-prompt", action="store_true", help=BY_NAME["tempo_prompt"].doc)
    parser.add_argument("--link", action="store_true", help="join the Ableton Link session: its tempo and bars")
    parser.add_argument("--scenes", type=Path, help="scenes file (TOML) to recall from and save to (default: beside "
                                                    "--record, else scenes.toml in --session-dir)")
    parser.add_argument("--chunk-frames", type=int, default=1, choices=range(1, 17), metavar="1-16",
                        help="frames (20 ms each) decoded to audio per codec call: 1 answers controls soonest; "
                             "4 spends a third as much time in the codec per frame, and controls answer over 100 ms later")
    parser.add_argument("--record", type=Path, help="record to this .wav/.flac as it plays")
    parser.add_argument("--record-rate", type=int, help="write --record at this rate (default: the model's, "
                                                          "e.g. 32000; 48000 for a DAW session)")
    parser.add_argument("--log", type=Path, help="event log (JSON Lines) of every applied change")
    parser.add_argument("--codes-out", type=Path, help="save the played codes (batch, codebooks, frames) as .npy")
    parser.add_argument("--session-dir", type=Path, default=Path("."), help="folder for /mg/record files")
    parser.add_argument("--device", help="sound output device: its index or a part of its name (--list-devices)")
    parser.add_argument("--list-devices", action="store_true", help="list the sound output devices and stop")
    parser.add_argument("--sample-rate", type=int, help="play at this rate (default: the device's own; the "
                                                           "model's audio is resampled to it)")
    parser.add_argument("--channels", type=output_list, help="the device's outputs to play on, e.g. 3,4 "
                                                               "(default: the first)")
    parser.add_argument("--jack", action="store_true", help="play as a JACK client (ports mg-live:out_L/out_R)")
    parser.add_argument("--jack-connect", help="with --jack: input ports to connect to, comma-separated, or a "
                                               "pattern (a DAW's client name); 'none' connects nothing "
                                               "(default: the system playback ports)")
    parser.add_argument("--osc-host", default="127.0.0.1", help="address to listen on (0.0.0.0 opens it to the network)")
    parser.add_argument("--osc-port", type=int, default=9000, help="OSC port (0: no OSC)")
    parser.add_argument("--osc-reply", help="HOST:PORT to send telemetry to")
    parser.add_argument("--oscquery-port", type=int, default=9001,
                        help="OSCQuery (HTTP, advertised over mDNS) for clients that discover parameters; 0: off")
    parser.add_argument("--midi-in", help="MIDI input port (a part of its name); with --midi-map alone, the map's port")
    parser.add_argument("--midi-map", type=Path, help="MIDI map (TOML): CC → parameter, notes → prompts/transport")
    parser.add_argument("--headless", action="store_true", help="plain status lines instead of the console")
    parser.add_argument("--continue", dest="continue_from", type=Path, help="start the performance from this recording")
    parser.add_argument("--melody", type=Path, help="melody models: follow this recording's melody from the start")
    parser.add_argument("--replay", type=Path, help="re-render this event log offline (with --out)")
    parser.add_argument("--out", type=Path, help="output .wav/.flac of --replay")
    add_sampling_arguments(parser)
    args = parser.parse_args(argv)
    for name in ("record", "out"):
        path = getattr(args, name)
        if path and path.suffix.lower() not in (".wav", ".flac"):
            parser.error(f"--{name} must end in .wav or .flac")
    if args.replay and not args.out:
        parser.error("--replay needs --out")
    if args.jack and (args.device is not None or args.sample_rate or args.channels or args.no_audio):
        parser.error("--jack plays at the JACK server's rate into the ports --jack-connect names: "
                     "not with --device, --sample-rate, --channels or --no-audio")
    if args.jack_connect and not args.jack:
        parser.error("--jack-connect needs --jack")
    for name in ("sample_rate", "record_rate"):
        rate = getattr(args, name)
        if rate is not None and not 8000 <= rate <= 384000:
            parser.error(f"--{name.replace('_', '-')} {rate}: a rate is 8000–384000 Hz")
    if not args.replay:  # a replay takes the log's model and dtype unless told otherwise
        args.model, args.dtype = args.model or "tiny", args.dtype or "float32"
    return args


def output_list(text: str) -> list[int]:
    """`--channels 3,4` → [3, 4]: 1-based output numbers, as interfaces print them."""
    try:
        outputs = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of output numbers like 3,4") from None
    if min(outputs) < 1 or len(set(outputs)) != len(outputs):
        raise argparse.ArgumentTypeError(f"{text!r}: output numbers start at 1, each once")
    return outputs


class StatusLine:
    """One line, rewritten in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.tty, self.last = stream, stream.isatty(), 0.0

    def __call__(self, engine: StreamingEngine, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < (0.25 if self.tty else 5.0):
            return
        self.last = now
        self.stream.write(("\r" + summary(engine) + "\033[K") if self.tty else summary(engine) + "\n")
        self.stream.flush()


def summary(engine: StreamingEngine) -> str:
    status, rate = engine.status(), engine.sink.sample_rate
    return (f"{engine.metrics.samples / rate:7.2f} s  frame {status['frame']}  rtf {status['rtf']:.2f}  "
            f"buffer {status['buffer'] * 1000:4.0f}/{engine.sink.target / rate * 1000:.0f} ms  "
            f"underruns {status['underruns']}  worst frame {status['worst_frame']:.1f} ms  reprimes {status['reprimes']}  "
            f"bar {status['bar']} at {status['bpm']:.1f} bpm"
            + (f"  latency {status['latency']:.0f} ms" if engine.metrics.latencies_ms else ""))


class Controls:
    """What every surface calls: validate through the registry, then hand to the engine or the app. Nothing
    a surface sends can raise out of here: a fault is counted, and the surface and the music go on."""

    def __init__(self, engine: StreamingEngine | None, registry: Registry, session_dir: Path,
                 scenes: Scenes | None = None):
        self.engine, self.registry, self.session_dir = engine, registry, session_dir
        self.scenes = scenes or Scenes(session_dir / "scenes.toml")

    def __call__(self, name: str, value, source: str) -> None:
        try:
            self._dispatch(name, value, source)
        except BadValue:
            pass  # counted where it was found
        except OSError as e:  # a session folder that cannot be made, a file that cannot be read
            self.registry.count("file error", f"{name}: {e}")

    def _dispatch(self, name: str, value, source: str) -> None:
        engine = self.engine
        if name == "quit":
            engine.stop()
        elif name == "scene_save":
            try:
                self.scenes.save(value, engine.scene())
                log.info("scene %d saved to %s", value, self.scenes.path)
            except OSError as e:  # kept in memory all the same
                self.registry.count("file error", f"scene {value}: {self.scenes.path}: {e.strerror}")
        elif name == "scene_recall":
            scene = self.scenes.get(value)
            if scene is None:
                self.registry.count("unknown scene", f"scene {value} was never saved")
                return
            engine.submit("scene_recall", {"scene": value, **scene}, source)
        elif name == "record":
            name = value or time.strftime("take-%Y%m%d-%H%M%S.wav")
            engine.submit("record", str(self.session_file(name)), source)
        elif name == "melody" and isinstance(value, str) and value:  # a file name from the network
            path = self.session_file(value, suffix=Path(value).suffix or ".wav", create=False)
            if not path.exists():
                self.registry.count("missing file", f"melody: {path} does not exist")
                return
            engine.submit("melody", str(path), source)
        else:
            engine.submit(name, value or None if name == "melody" else value, source, glide=BY_NAME[name].smoothing)

    def session_file(self, name: str, suffix: str = ".wav", create: bool = True) -> Path:
        """A file name from the network, never a path: it lands in (or is read from) the session folder."""
        if not name or name != Path(name).name or name.startswith("."):
            self.registry.count("bad file name", f"{name!r} is not a plain file name")
            raise BadValue("bad file name", name)
        path = Path(name) if Path(name).suffix.lower() in (".wav", ".flac", suffix) else Path(name + suffix)
        if create:
            self.session_dir.mkdir(parents=True, exist_ok=True)
        return self.session_dir / path

    def ignored(self) -> dict:
        """For telemetry: everything refused or survived, the engine's and the surfaces'."""
        return {"ignored": int(self.engine.metrics.faults + sum(self.registry.errors.values()))}


def replay(args) -> int:
    """Re-render a logged performance as fast as the machine allows, with the same or another model."""
    lines = [json.loads(line) for line in args.replay.read_text().splitlines() if line.strip()]
    header, records = lines[0], [r for r in lines[1:] if not r.get("end")]
    end = next((r for r in lines[1:] if r.get("end")), None)
    seconds = args.seconds or (end["seconds"] if end else None)
    if not header.get("mg_live_log") or seconds is None:
        print(f"mg-live: {args.replay}: not a complete mg-live event log", file=sys.stderr)
        return 2
    settings = header["settings"]
    loaded = load(args.model or header.get("model") or "tiny", args.dtype or header.get("dtype", "float32"),
                  args.quantize or header.get("quantize"))
    params = SamplingParams(settings["cfg"], settings["temperature"], settings["top_k"], settings["top_p"])
    sink = UnpacedSink(loaded.config.sample_rate, loaded.config.audio_channels, args.buffer_ms)
    prompt_codes = codes_from_audio(loaded.model, *read_audio(Path(header["continue"]))) if header.get("continue") else None
    melody = Melody.from_recording(*read_audio(Path(header["melody"])), start_frame=None) if header.get("melody") else None
    engine = StreamingEngine(loaded, settings["prompt"], params, sink, seed=header["seed"],
                             window_seconds=settings["window"], recorder=Recorder(args.out, sink.sample_rate, sink.channels),
                             total_frames=header.get("total_frames"), horizon=header.get("horizon", 1500),
                             codes_path=args.codes_out, prompt_codes=prompt_codes, melody=melody)
    initial = [("negative", settings.get("negative", "")), ("morph", settings.get("morph", 0.0))]
    initial += [("slot_prompt", [int(n), text]) for n, (text, _) in settings.get("slots", {}).items()]
    initial += [("slot_weight", [int(n), weight]) for n, (_, weight) in settings.get("slots", {}).items()]
    engine.load_replay([{"step": 0, "param": p, "value": v} for p, v in initial if v] + records)
    start = time.perf_counter()
    engine.run(seconds)
    print(f"mg-live: rendered {args.out} ({seconds:.2f} s, {len(records)} changes) in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


def writable(path: Path, what: str) -> str | None:
    """None if a file can be written at `path` (checked now: a performance must not fail at its end),
    else the one-line problem."""
    try:
        existed = path.exists()
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as e:
        return f"{what} {path}: cannot write there ({e.strerror})"
    return None


def check(args) -> str | None:
    """Every argument a show depends on, checked before anything starts: the first problem, in one line."""
    for path, what in ((args.record, "--record"), (args.log, "--log"), (args.codes_out, "--codes-out")):
        if path and (problem := writable(path, what)):
            return problem
    try:
        args.session_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"--session-dir {args.session_dir}: cannot make that folder ({e.strerror})"
    if not 0 <= args.osc_port <= 65535:
        return f"--osc-port {args.osc_port}: a port is 0–65535 (0: no OSC)"
    if not 0 <= args.oscquery_port <= 65535:
        return f"--oscquery-port {args.oscquery_port}: a port is 0–65535 (0: no OSCQuery)"
    if args.osc_reply:
        from .osc import reply_address

        try:
            args.reply = reply_address(args.osc_reply)
        except ValueError as e:
            return str(e)
    for path, what in ((args.continue_from, "--continue"), (args.melody, "--melody"), (args.midi_map, "--midi-map")):
        if path and not path.is_file():
            return f"{what} {path}: no such file"
    args.scenes = args.scenes or (args.record.with_suffix(".scenes.toml") if args.record
                                  else args.session_dir / "scenes.toml")
    try:
        Scenes.load(args.scenes)
    except ValueError as e:
        return f"--scenes {e}"
    if problem := writable(args.scenes, "--scenes"):
        return problem
    return None


class Show:
    """The surfaces (OSC in, telemetry out, MIDI in) around an engine: opened (ports bound, maps read)
    before the engine starts, so that a problem is one line at start; started once the engine exists;
    closed on every way out."""

    def __init__(self, args, registry: Registry, timeline: Timeline):
        self.args, self.registry = args, registry
        self.controls = Controls(None, registry, args.session_dir, Scenes.load(args.scenes))
        self.osc = self.midi = self.telemetry = self.oscquery = self.link = None
        if args.osc_port:
            from .osc import OscServer

            try:
                self.osc = OscServer(registry, self._deliver("osc"), args.osc_host, args.osc_port)
            except (OSError, OverflowError) as e:
                raise SystemExit(f"mg-live: cannot listen for OSC on {args.osc_host}:{args.osc_port} "
                                 f"({getattr(e, 'strerror', None) or e}); pick another --osc-port, or 0 for none")
        if self.osc and args.oscquery_port:  # discovery of the OSC server's parameters
            from .oscquery import OscQueryServer

            try:
                self.oscquery = OscQueryServer(self._settings, args.osc_host, args.oscquery_port, self.osc.address[1])
            except OSError as e:
                self.close()
                raise SystemExit(f"mg-live: cannot serve OSCQuery on {args.osc_host}:{args.oscquery_port} "
                                 f"({e.strerror or e}); pick another --oscquery-port, or 0 for none")
        if args.midi_in is not None or args.midi_map:
            from .midi import MidiInput, MidiMap, MidiRouter

            try:
                mapping = MidiMap.load(args.midi_map) if args.midi_map else MidiMap()
            except ValueError as e:
                self.close()
                raise SystemExit(f"mg-live: {e}")
            from .tempo import MidiClock

            clock = None if args.link else MidiClock(timeline)  # Link keeps time when asked for
            self.midi = MidiInput(MidiRouter(mapping, registry, self._deliver("midi"), clock), args.midi_in or "")
        if args.link:  # last: every way out above has nothing of it to close
            from .tempo import LinkClock

            try:
                self.link = LinkClock(timeline)
            except RuntimeError as e:
                self.close()
                raise SystemExit(f"mg-live: {e}")

    def _settings(self) -> dict:
        return self.controls.engine.settings() if self.controls.engine else {}

    def _deliver(self, source: str):
        return lambda name, value: self.controls(name, value, source)

    def start(self, engine: StreamingEngine) -> None:
        self.controls.engine = engine
        workers = [self.osc, self.midi, self.oscquery, self.link]
        if self.args.osc_reply:
            from .osc import Telemetry

            self.telemetry = Telemetry(engine, *self.args.reply, extra=self.controls.ignored)
            workers.append(self.telemetry)
        for worker in workers:
            if worker is not None:
                worker.on_fault = lambda message: self.registry.count("surface restarted", message)
                worker.start()
        if self.midi is not None:
            self.midi.announce()
            for n, text in sorted(self.midi.router.mapping.slots.items()):  # the map's blend slots
                self.controls("slot_prompt", [n, text], "midi")
        if self.args.tempo_prompt:
            self.controls("tempo_prompt", 1, "cli")

    def close(self) -> None:
        for worker in (self.osc, self.midi, self.telemetry, self.oscquery, self.link):
            if worker is not None:
                worker.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="mg-live: %(message)s", stream=sys.stderr)
    if args.list_devices:
        return list_devices()
    if args.replay:
        try:
            return replay(args)
        except CheckpointError as e:
            print(f"mg-live: {e}", file=sys.stderr)
            return 2
    if problem := check(args):
        print(f"mg-live: {problem}", file=sys.stderr)
        return 2
    try:
        loaded = load(args.model, args.dtype, args.quantize)
    except CheckpointError as e:
        print(f"mg-live: {e}", file=sys.stderr)
        return 2
    rate, channels = loaded.config.sample_rate, loaded.config.audio_channels
    try:
        sink, where = open_sink(args, rate, channels)
        prompt_codes = codes_from_audio(loaded.model, *read_audio(args.continue_from)) if args.continue_from else None
        melody = None
        if args.melody:
            if not loaded.config.is_melody:
                raise ValueError(f"{args.model} is not a melody model (try facebook/musicgen-melody)")
            melody = Melody.from_recording(*read_audio(args.melody), start_frame=None, source=str(args.melody.resolve()))
    except AudioUnavailable as e:
        print(f"mg-live: {e}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, ValueError) as e:
        print(f"mg-live: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    registry, timeline = Registry(), Timeline(args.bpm)
    try:
        show = Show(args, registry, timeline)
    except SystemExit as e:
        print(e.code, file=sys.stderr)
        return 2
    header = {"continue": str(args.continue_from.resolve())} if args.continue_from else {}
    header |= {"melody": str(args.melody.resolve())} if args.melody else {}

    def build_engine() -> StreamingEngine:
        recorder = Recorder(args.record, rate, channels, file_rate=args.record_rate) if args.record else None
        return StreamingEngine(loaded, args.prompt, sampling_from(args), sink, seed=args.seed,
                               window_seconds=args.window, recorder=recorder, log_path=args.log,
                               chunk_frames=args.chunk_frames,
                               total_frames=frames_for(args.seconds, loaded) if args.seconds else None,
                               model_name=args.model, codes_path=args.codes_out,
                               morph_seconds=args.morph, prompt_codes=prompt_codes, header=header, melody=melody,
                               adaptive=not args.fixed_buffer, timeline=timeline, grid=args.grid)

    console = not args.headless and sys.stdout.isatty()
    status = StatusLine()
    engine = player = None
    try:
        if console:  # the engine lives on its own thread (MLX streams are per thread), the console on the main one
            built = []
            player = mlx_thread(lambda: (built.append(build_engine()), built[0].run(args.seconds)), "mg-engine")
            player.start()
            while not built and player.is_alive():
                time.sleep(0.01)
            if not built:
                return 2
            engine = built[0]
            show.start(engine)
            from .console import Console

            Console(engine, show.controls, player, midi=show.midi, osc=show.osc, midi_map_path=args.midi_map).run()
        else:
            engine = build_engine()
            show.start(engine)
            signal.signal(signal.SIGINT, lambda *_: engine.stop())
            signal.signal(signal.SIGTERM, lambda *_: engine.stop())
            print(f"mg-live: {args.model} ({loaded.dtype}) at {rate} Hz, {channels} channel(s), {where}, "
                  + (f"OSC on {args.osc_host}:{show.osc.address[1]}" if show.osc else "no OSC")
                  + (f", OSCQuery on http://{args.osc_host}:{show.oscquery.address[1]}" if show.oscquery else "")
                  + "; Ctrl-C stops",
                  file=sys.stderr)
            engine.run(args.seconds, on_chunk=status)
    finally:
        if engine is not None:
            engine.stop()
        if player is not None:
            player.join()  # no thread may be inside MLX when the process exits
        show.close()
    status(engine, force=True)
    errors = ", ".join(f"{k} {v}" for k, v in registry.errors.items())
    m = engine.metrics
    print(f"\nmg-live: played {m.samples / rate:.2f} s, {m.frames} frames, rtf {m.rtf(rate):.2f}, "
          f"underruns {sink.underruns}" + (f" ({sink.ring.card_gaps} from the card)" if sink.ring.card_gaps else "")
          + f", worst frame {m.frame_times.worst_ever:.1f} ms "
          f"(p99 {m.frame_times.percentile(99):g} ms), reprimes {m.reprimes}"
          + (f", changes that could not apply {m.faults}" if m.faults else "")
          + (f", ignored input: {errors}" if errors else ""), file=sys.stderr)
    return 0


def list_devices() -> int:
    """`--list-devices`: the outputs PortAudio offers (the default marked *), one per line."""
    try:
        devices = output_devices()
    except AudioUnavailable as e:
        print(f"mg-live: {e}", file=sys.stderr)
        return 2
    if not devices:
        print("mg-live: no sound output devices (mg-live plays on, paced by the clock)", file=sys.stderr)
    for d in devices:
        print(f"{'*' if d['default'] else ' '} {d['index']:3d}  {d['name']}  ({d['api']}): "
              f"{d['outputs']} output(s), {d['rate']} Hz")
    return 0


def open_sink(args, rate: int, channels: int):
    """(sink, what it is): the sound card (PortAudio, or JACK with --jack), or the wall clock with --no-audio
    or when there is no sound card (said in one line, unless a --device or --jack was asked for: then its
    absence is the error)."""
    if args.no_audio:
        return ClockSink(rate, channels, args.buffer_ms), "wall clock (no audio)"
    if args.channels and channels == 2 and len(args.channels) != 2:
        raise ValueError(f"--channels {','.join(map(str, args.channels))}: a stereo model plays on two outputs")
    try:
        if args.jack:
            connect = None if args.jack_connect is None else (
                [] if args.jack_connect.lower() == "none" else args.jack_connect.split(","))
            sink = JackSink(rate, channels, args.buffer_ms, connect=connect)
            return sink, f"JACK client {sink.name} at {sink.rate_text}"
        sink = SoundDeviceSink(rate, channels, args.buffer_ms, device=args.device, device_rate=args.sample_rate,
                               outputs=args.channels)
        outputs = f", outputs {','.join(map(str, args.channels))}" if args.channels else ""
        return sink, f"{sink.name} at {sink.rate_text}{outputs}"
    except AudioUnavailable as e:
        if args.device is not None or args.jack or args.sample_rate or args.channels:
            raise
        print(f"mg-live: {e}: playing on, paced by the clock (--record keeps what plays)", file=sys.stderr)
        return ClockSink(rate, channels, args.buffer_ms), "wall clock (no sound card)"


if __name__ == "__main__":
    sys.exit(main())
