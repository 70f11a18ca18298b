"""Where audio goes: a ring buffer drained by a sound card callback, by the wall clock (no sound card), or
as fast as it comes (offline rendering); and a recorder that keeps its file valid while it grows."""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

FADE_SAMPLES = 64  # short ramp into silence on an underrun, so a gap never clicks


class RingBuffer:
    """Single producer (the engine), single consumer (the audio callback); preallocated, lock-free
    (each side only advances its own counter; Python int stores are atomic)."""

    def __init__(self, capacity: int, channels: int, start_fill: int):
        self.data = np.zeros((capacity, channels), np.float32)
        # Playback starts once `start_fill` samples are waiting (silence before is no underrun), and a
        # shortfall after `ended` is the end of the stream, not an underrun.
        self.start_fill, self.started, self.ended = start_fill, False, False
        self.capacity, self.channels = capacity, channels
        self.written = 0  # total samples ever written
        self.read = 0  # total samples ever read
        self.underruns = 0  # the ring ran short (written by the consumer only)
        self.card_gaps = 0  # the card missed a period while this played (written by the card's thread only)
        # (samples played, whether the card's own) of each gap, oldest first, for the event log
        self.underrun_at: deque[tuple[int, bool]] = deque(maxlen=1024)
        self.low_water = capacity  # the least that was waiting after a read, since the engine last looked
        self._last = np.zeros(channels, np.float32)
        self._ramp = np.linspace(1, 0, FADE_SAMPLES, endpoint=False, dtype=np.float32)[:, None]

    @property
    def fill(self) -> int:
        return self.written - self.read

    @property
    def waiting(self) -> bool:
        """Not playing yet: the buffer is still being primed (reads give silence, never an underrun)."""
        return not self.started and self.fill < self.start_fill and not self.ended

    def write(self, audio: np.ndarray) -> None:
        """audio [samples, channels]; the caller keeps fill + samples ≤ capacity (see Sink.wait_for_room)."""
        n = len(audio)
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        self.data[start : start + first] = audio[:first]
        self.data[: n - first] = audio[first:]
        self.written += n

    def read_into(self, out: np.ndarray) -> bool:
        """Fill `out` [frames, channels]; on a shortfall play what there is, fade to silence, return False."""
        n, available = len(out), self.fill
        if not self.started:
            if self.waiting:
                out[:] = 0
                return True
            self.started = True
        take = min(n, available)
        start = self.read % self.capacity
        first = min(take, self.capacity - start)
        out[:first] = self.data[start : start + first]
        out[first:take] = self.data[: take - first]
        self.read += take
        self.low_water = min(self.low_water, available - take)
        if take:
            self._last[:] = out[take - 1]
        if take == n:
            return True
        fade = min(FADE_SAMPLES, n - take)
        out[take : take + fade] = self._last * self._ramp[:fade]
        out[take + fade :] = 0
        self._last[:] = 0
        if not self.ended:
            self.underruns += 1
            self.underrun_at.append((self.read, False))
        return False

    def card_gap(self) -> None:
        """The card missed a period (PortAudio's output underflow, a JACK xrun): a gap in this sound only
        while it plays; while priming, paused or drained there was silence anyway."""
        if self.started and not self.ended:
            self.card_gaps += 1
            self.underrun_at.append((self.read, True))


class Sink:
    """Base: a ring buffer and the pace at which it drains. `target` (samples) is how far the engine may run
    ahead of what has been heard (control latency grows with it); it moves between `floor` and `ceiling`
    (see AdaptiveBuffer). `block` is how many samples the consumer takes at a time."""

    paced = True
    block = 512
    output_latency = 0.0  # seconds from handing a block to the card to hearing it

    def __init__(self, sample_rate: int, channels: int, buffer_ms: float):
        self.sample_rate, self.channels = sample_rate, channels
        # (model-rate samples played, perf_counter time) as the consumer last took a block: the sample
        # `played` is heard `output_latency` after that time. None until the consumer first runs.
        self.clock: tuple[int, float] | None = None
        self.ceiling = self.target = max(1, int(sample_rate * buffer_ms / 1000))
        # room for one second of overshoot beyond the target; playback starts once the buffer is primed
        self.ring = RingBuffer(self.ceiling + sample_rate, channels, start_fill=self.ceiling)

    @property
    def played(self) -> int:
        return self.ring.read

    @property
    def underruns(self) -> int:
        """Gaps heard: the ring ran short, or the card's own (see RingBuffer.card_gap)."""
        return self.ring.underruns + self.ring.card_gaps

    def has_room(self, ahead: int = 0) -> bool:
        """Room for more, `ahead` samples being made already."""
        return self.ring.fill + ahead < self.target

    def wait_for_room(self, stop: threading.Event, ahead: int = 0) -> None:
        while not self.has_room(ahead) and not stop.is_set():
            time.sleep(0.002)

    def write(self, audio: np.ndarray) -> None:
        self.ring.write(audio)

    def start(self) -> None: ...

    def set_paused(self, paused: bool) -> None:
        """Paused: what is buffered plays out, then silence that is not counted as underruns; on resume
        playback waits for the buffer to fill again."""
        self.ring.ended = paused
        if not paused:
            self.ring.started = False

    def drain(self, stop: threading.Event) -> None:
        """The stream has ended: wait until everything written has been played."""
        self.ring.ended = True
        while self.ring.fill > 0 and not stop.is_set():
            time.sleep(0.005)

    def close(self) -> None: ...


class AdaptiveBuffer:
    """How far generation runs ahead of the ear, adjusted as it plays. It starts safe, at the ceiling
    (`--buffer-ms`); while frames come steadily it shrinks slowly toward what the recent frame times need
    (1.5 times the worst frame of the last seconds, plus a chunk and the consumer's block); after a near miss
    (the buffer ran below a quarter of its target, or under) it grows at once and holds for a while. When a
    new prompt, blend or melody takes effect it goes back to the ceiling and holds (`brace`)."""

    SHRINK_PER_SECOND = 0.004  # seconds of target given up per second of steady playing
    HOLD_SECONDS = 10.0

    def __init__(self, sink: Sink, chunk_samples: int, enabled: bool = True):
        self.sink, self.chunk, self.enabled = sink, chunk_samples, enabled
        rate = sink.sample_rate
        self.floor = min(sink.ceiling, sink.block + chunk_samples + int(0.005 * rate))
        self.hold_until = time.monotonic() + self.HOLD_SECONDS
        self.last = time.monotonic()
        self.near_misses = 0

    def brace(self) -> None:
        """A prepared change took effect: back to the ceiling, held as after a near miss. On an H200, under a
        burst of prompt changes (4 within 0.3 s, each restarting the morph), five frames took 149 ms to make
        100 ms of audio, one of them 48 ms: more than a target shrunk to the steady frame times holds
        (bench/results-h200.md). Braced when the change takes effect, not when it arrives: the frames that
        fill the deeper buffer are its own, so its latency is unchanged."""
        if self.enabled and self.sink.ring.started and not self.sink.ring.ended:
            self._hold(self.sink.ceiling, time.monotonic())

    def _hold(self, target: int, now: float) -> None:
        self.sink.target = target
        self.hold_until = now + self.HOLD_SECONDS

    def update(self, worst_recent_ms: float) -> None:
        """Once per chunk, from the engine's thread."""
        sink, now = self.sink, time.monotonic()
        elapsed, self.last = now - self.last, now
        low, sink.ring.low_water = sink.ring.low_water, sink.ring.capacity
        if not self.enabled or not sink.ring.started or sink.ring.ended:
            return
        if low < sink.target // 4:
            self.near_misses += 1
            self._hold(min(sink.ceiling, int(sink.target * 1.5) + self.chunk), now)
            return
        need = int(1.5 * worst_recent_ms / 1000 * sink.sample_rate) + self.chunk + sink.block
        need = max(self.floor, min(sink.ceiling, need))
        if need > sink.target:
            sink.target = need
        elif now >= self.hold_until:
            sink.target = max(need, sink.target - int(self.SHRINK_PER_SECOND * elapsed * sink.sample_rate))


class UnpacedSink(Sink):
    """Offline rendering: everything is 'played' the moment it is written."""

    paced = False

    def has_room(self, ahead: int = 0) -> bool:
        return True

    def write(self, audio: np.ndarray) -> None:
        self.ring.written += len(audio)
        self.ring.read = self.ring.written


class ClockSink(Sink):
    """No sound card (`--no-audio`): a thread drains the buffer at the sample rate, by the wall clock."""

    block = 320

    def __init__(self, sample_rate: int, channels: int, buffer_ms: float):
        super().__init__(sample_rate, channels, buffer_ms)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mg-clock-sink", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        out = np.zeros((self.block, self.channels), np.float32)
        period = self.block / self.sample_rate
        due = time.perf_counter()
        while not self._stop.is_set():
            due += period
            time.sleep(max(0.0, due - time.perf_counter()))
            self.clock = (self.ring.read, time.perf_counter())
            self.ring.read_into(out)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


class Resampler:
    """Between the ring buffer (the model's rate) and a card at another rate: soxr's streaming resampler
    (high quality), fed from the ring a quantum at a time as the card asks for samples."""

    QUANTUM = 256  # model-rate samples read from the ring per refill

    def __init__(self, ring: RingBuffer, in_rate: int, out_rate: int):
        self.ring, self.ratio = ring, out_rate / in_rate
        self.stream = None
        if in_rate != out_rate:
            import soxr

            self.stream = soxr.ResampleStream(in_rate, out_rate, ring.channels, dtype="float32", quality="HQ")
        self.quantum = np.zeros((self.QUANTUM, ring.channels), np.float32)
        self.pending = np.zeros((0, ring.channels), np.float32)  # resampled, not yet handed to the card

    def read_into(self, out: np.ndarray) -> bool:
        """Fill `out` [frames, channels] at the card's rate; False if the ring ran short (an underrun)."""
        if self.stream is None:
            return self.ring.read_into(out)
        if self.ring.waiting and not len(self.pending):  # silence, kept out of the resampler: the music
            out[:] = 0                                     # then starts at the resampler's phase 0
            return True
        ok = True
        while len(self.pending) < len(out):
            ok = self.ring.read_into(self.quantum) and ok
            self.pending = np.concatenate([self.pending, self.stream.resample_chunk(self.quantum)])
        out[:] = self.pending[: len(out)]
        self.pending = self.pending[len(out) :]
        return ok

    def close(self) -> None:
        self.stream = None  # soxr's object freed now, not at interpreter exit (nanobind warns of leaks then)

    @property
    def in_flight(self) -> int:
        """Model-rate samples taken from the ring but not heard yet: the resampler's delay and what waits."""
        if self.stream is None:
            return 0
        return round((len(self.pending) + self.stream.delay()) / self.ratio)


class CardSink(Sink):
    """A sound card (PortAudio or JACK) at its own rate, `device_rate`: its callback pulls `block` samples
    at a time through the resampler and places the model's channels on the chosen outputs."""

    def __init__(self, sample_rate: int, channels: int, buffer_ms: float, device_rate: int):
        super().__init__(sample_rate, channels, buffer_ms)
        self.device_rate = device_rate
        self.resampler = Resampler(self.ring, sample_rate, device_rate)
        self.scratch = np.zeros((0, channels), np.float32)

    def reserve(self, frames: int) -> None:
        """Room for a block of `frames`, made before the card asks (its callback then never allocates)."""
        if len(self.scratch) < frames:
            self.scratch = np.zeros((frames, self.channels), np.float32)

    def pull(self, frames: int) -> np.ndarray:
        """The next `frames` samples at the card's rate, [frames, channels] (a view of a reused buffer)."""
        self.reserve(frames)
        block = self.scratch[:frames]
        self.clock = (self.played, time.perf_counter())
        self.resampler.read_into(block)
        return block

    def source(self, output: int) -> int:
        """The model channel that the `output`-th chosen output plays (a mono model: on every one)."""
        return min(output, self.channels - 1)

    @property
    def played(self) -> int:
        """Model-rate samples heard: read from the ring, less what is still inside the resampler."""
        return self.ring.read - self.resampler.in_flight

    @property
    def rate_text(self) -> str:
        if self.device_rate == self.sample_rate:
            return f"{self.device_rate} Hz"
        return f"{self.device_rate} Hz (resampled from {self.sample_rate} Hz)"


class SoundDeviceSink(CardSink):
    """The sound card through PortAudio, at the device's default rate (or `device_rate`), on its first
    outputs or on `outputs` (1-based channel numbers of a multi-channel interface). The callback only
    copies (and resamples) from the preallocated ring buffer."""

    def __init__(self, sample_rate: int, channels: int, buffer_ms: float, device=None, blocksize: int = 512,
                 device_rate: int | None = None, outputs: list[int] | None = None):
        sd = _sounddevice()
        device = find_output_device(device)
        try:
            info = sd.query_devices(device, "output")
        except Exception as e:  # noqa: BLE001 - PortAudio reports a missing device in several ways
            if device is None:
                raise AudioUnavailable("found no sound output device") from None
            raise AudioUnavailable(f"output device {device}: {str(e).splitlines()[0]}") from None
        self.name = info["name"]
        super().__init__(sample_rate, channels, buffer_ms, int(device_rate or info["default_samplerate"]))
        self.block, self.outputs = blocksize, outputs
        self.reserve(blocksize)
        width = max(outputs) if outputs else channels
        if width > info["max_output_channels"]:
            raise AudioUnavailable(f"{self.name} has {info['max_output_channels']} output(s), not {width}")
        try:
            self.stream = sd.OutputStream(samplerate=self.device_rate, channels=width, dtype="float32",
                                          blocksize=blocksize, device=device, callback=self._callback)
        except Exception as e:  # noqa: BLE001
            raise AudioUnavailable(f"{self.name}: cannot play at {self.device_rate} Hz on {width} output(s) "
                                   f"({str(e).splitlines()[0]})") from None
        self.output_latency = float(self.stream.latency)  # PortAudio's estimate for the device

    def _callback(self, outdata, frames, time_info, status) -> None:
        if status.output_underflow:
            self.ring.card_gap()
        if self.outputs is None:
            self.clock = (self.played, time.perf_counter())
            self.resampler.read_into(outdata)
            return
        block = self.pull(frames)
        outdata[:] = 0
        for i, output in enumerate(self.outputs):
            outdata[:, output - 1] = block[:, self.source(i)]

    def start(self) -> None:
        self.stream.start()

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()
        self.resampler.close()


class JackSink(CardSink):
    """A JACK client `mg-live` with outputs out_L and out_R (a mono model feeds both), at the server's
    rate and buffer size. `connect`: the input ports to connect to, a pattern that finds them (a DAW's
    client name), or None for the system playback ports; [] connects nothing."""

    def __init__(self, sample_rate: int, channels: int, buffer_ms: float, connect: list[str] | None = None,
                 name: str = "mg-live"):
        try:
            import jack

            jack.set_error_function(lambda message: None)  # libjack's own lines; the one below says it
            self.client = jack.Client(name, no_start_server=True)
        except Exception as e:  # noqa: BLE001 - no libjack (OSError), no server (JackOpenError)
            raise AudioUnavailable(f"no JACK server to play into ({type(e).__name__}: {e})".splitlines()[0]) from None
        super().__init__(sample_rate, channels, buffer_ms, self.client.samplerate)
        self.name, self.connect = self.client.name, connect
        self.block = self.client.blocksize
        self.output_latency = self.block / self.device_rate  # the period being played while this one is filled
        self.reserve(self.block)
        self.ports = [self.client.outports.register(f"out_{side}") for side in "LR"]
        self.client.set_blocksize_callback(self._blocksize)
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)

    def _blocksize(self, frames: int) -> None:
        self.block = frames
        self.reserve(frames)

    def _xrun(self, delayed_usecs: float) -> None:
        self.ring.card_gap()  # a client of the graph (ours or another) missed the period: all outputs had a gap

    def _process(self, frames: int) -> None:
        block = self.pull(frames)
        for i, port in enumerate(self.ports):
            port.get_array()[:] = block[:, self.source(i)]

    def start(self) -> None:
        self.client.activate()
        if self.connect is None:
            targets = self.client.get_ports(is_physical=True, is_input=True, is_audio=True)
        else:
            targets = [p for pattern in self.connect for p in self.client.get_ports(pattern, is_input=True, is_audio=True)]
            if self.connect and not targets:
                raise AudioUnavailable(f"no JACK input port matches {','.join(self.connect)}")
        for port, target in zip(self.ports, targets[:2] * 2 if len(targets) == 1 else targets):
            self.client.connect(port, target)

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()
        self.resampler.close()


def _sounddevice():
    try:
        import sounddevice as sd
    except OSError as e:  # the PortAudio library itself is missing
        raise AudioUnavailable(f"no audio output ({e})") from None
    return sd


def output_devices() -> list[dict]:
    """PortAudio's devices that can play: index, name, host API, outputs, default rate, is the default."""
    sd = _sounddevice()
    default = sd.default.device[1]
    apis = sd.query_hostapis()
    return [{"index": i, "name": d["name"], "api": apis[d["hostapi"]]["name"], "outputs": d["max_output_channels"],
             "rate": int(d["default_samplerate"]), "default": i == default}
            for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0]


def find_output_device(spec: str | int | None) -> int | None:
    """`--device`: an index, or a part of a name (the first output device whose name holds it); None: the
    system's default."""
    if spec is None or isinstance(spec, int):
        return spec
    devices = output_devices()
    if spec.strip().isdigit():
        index = int(spec)
        if any(d["index"] == index for d in devices):
            return index
        raise AudioUnavailable(f"no output device {index} (mg-live --list-devices lists them)")
    for d in devices:
        if spec.lower() in d["name"].lower():
            return d["index"]
    raise AudioUnavailable(f"no output device matching {spec!r} (mg-live --list-devices lists them)")


class AudioUnavailable(RuntimeError):
    """PortAudio or an output device is missing (the message says which, in one line)."""


class Recorder:
    """WAV/FLAC written as it plays; the header is brought up to date every `sync_seconds`, so the file
    stays readable if the process is killed. `file_rate`: write at another rate than the model's (soxr,
    streaming; the resampler's tail is written on close)."""

    def __init__(self, path: Path, sample_rate: int, channels: int, sync_seconds: float = 1.0,
                 file_rate: int | None = None):
        import soundfile as sf

        subtype = "PCM_24" if path.suffix.lower() == ".flac" else "FLOAT"
        file_rate = file_rate or sample_rate
        self.path, self.resampler = path, None
        if file_rate != sample_rate:
            import soxr

            self.resampler = soxr.ResampleStream(sample_rate, file_rate, channels, dtype="float32", quality="HQ")
        self.file = sf.SoundFile(str(path), "w", samplerate=file_rate, channels=channels, subtype=subtype)
        self.sync_every, self.since_sync = int(file_rate * sync_seconds), 0

    def write(self, audio: np.ndarray) -> None:
        if self.resampler is not None:
            audio = self.resampler.resample_chunk(audio)
        self.file.write(audio)
        self.since_sync += len(audio)
        if self.since_sync >= self.sync_every:
            self.file.flush()
            self.since_sync = 0

    def close(self) -> None:
        if self.resampler is not None:
            self.file.write(self.resampler.resample_chunk(np.zeros((0, self.file.channels), np.float32), last=True))
            self.resampler = None
        self.file.close()
