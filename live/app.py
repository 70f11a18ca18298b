"""`mg-live`: play MusicGen endlessly, steered while it plays."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

from engine.audio import AudioUnavailable, ClockSink, Recorder, SoundDeviceSink
from engine.generate import add_model_arguments, add_sampling_arguments, sampling_from
from engine.loading import load
from engine.streaming import StreamingEngine, frames_for
from engine.weights import CheckpointError

DEFAULT_BUFFER_MS = 100


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="mg-live", description="Play MusicGen live, endlessly.")
    add_model_arguments(parser)
    parser.add_argument("--prompt", default="warm analog synth pad with slow drums")
    parser.add_argument("--seconds", type=float, help="stop cleanly after this much audio (default: run until Ctrl-C)")
    parser.add_argument("--no-audio", action="store_true", help="no sound card: pace by the wall clock")
    parser.add_argument("--buffer-ms", type=float, default=DEFAULT_BUFFER_MS,
                        help="how far generation may run ahead of the ear (lower: faster response, more risk of gaps)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds of past music kept when the context restarts (2-30)")
    parser.add_argument("--record", type=Path, help="record to this .wav/.flac as it plays")
    parser.add_argument("--log", type=Path, help="event log (JSON Lines) of every applied change")
    parser.add_argument("--device", help="sound output device (name or index)")
    add_sampling_arguments(parser)
    args = parser.parse_args(argv)
    if not 2 <= args.window <= 30:
        parser.error("--window must be between 2 and 30 seconds")
    if args.record and args.record.suffix.lower() not in (".wav", ".flac"):
        parser.error("--record must end in .wav or .flac")
    return args


class StatusLine:
    """One line, rewritten in place on a terminal, printed every few seconds otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.tty, self.last = stream, stream.isatty(), 0.0

    def __call__(self, engine: StreamingEngine, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < (0.25 if self.tty else 5.0):
            return
        self.last = now
        m, rate = engine.metrics, engine.sink.sample_rate
        latency = sorted(m.latencies_ms)
        text = (f"{m.samples / rate:7.1f} s  frame {m.frames}  rtf {m.rtf(rate):.2f}  "
                f"buffer {engine.sink.ring.fill / rate * 1000:4.0f} ms  underruns {engine.sink.underruns}  "
                f"reprimes {m.reprimes}" + (f"  latency {latency[len(latency) // 2]:.0f} ms" if latency else ""))
        self.stream.write(("\r" + text + "\033[K") if self.tty else text + "\n")
        self.stream.flush()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        loaded = load(args.model, args.dtype, args.quantize)
        rate, channels = loaded.config.sample_rate, loaded.config.audio_channels
        sink = (ClockSink(rate, channels, args.buffer_ms) if args.no_audio
                else SoundDeviceSink(rate, channels, args.buffer_ms, device=args.device))
    except (CheckpointError, AudioUnavailable) as e:
        print(f"mg-live: {e}", file=sys.stderr)
        return 2
    recorder = Recorder(args.record, rate, channels) if args.record else None
    engine = StreamingEngine(loaded, args.prompt, sampling_from(args), sink, seed=args.seed,
                             window_seconds=args.window, recorder=recorder, log_path=args.log,
                             total_frames=frames_for(args.seconds, loaded) if args.seconds else None,
                             model_name=args.model)
    signal.signal(signal.SIGINT, lambda *_: engine.stop())
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    status = StatusLine()
    print(f"mg-live: {args.model} ({loaded.dtype}) at {rate} Hz, {channels} channel(s), "
          f"{'wall clock (no audio)' if args.no_audio else 'sound card'}; Ctrl-C stops", file=sys.stderr)
    engine.run(args.seconds, on_chunk=status)
    status(engine, force=True)
    m = engine.metrics
    latency = sorted(m.latencies_ms)
    print(f"\nmg-live: played {m.samples / rate:.2f} s, {m.frames} frames, rtf {m.rtf(rate):.2f}, "
          f"underruns {sink.underruns}, reprimes {m.reprimes}"
          + (f", latency p50 {latency[len(latency) // 2]:.0f} ms" if latency else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
