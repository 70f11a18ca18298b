"""Real paced audio through PortAudio and as a JACK client, into a JACK server with its dummy driver at
the rates rigs run at (Debian jackd2 + libportaudio2; .ci/run installs them). What mg-live plays is
captured by a JACK client here and compared with an offline resample of its own recording. PortAudio is
shut down before JACK, or the process aborts at exit."""

import json
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import soxr

from mg_live.engine import loading
from mg_live.engine.audio import SoundDeviceSink
from mg_live.engine.generation import SamplingParams
from mg_live.engine.streaming import StreamingEngine

pytestmark = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd (Debian jackd2) not installed")


@pytest.fixture(scope="module", params=[48000, 44100])
def jack_server(request):
    # Realtime, as rigs run JACK: the clients' process threads (PortAudio's, ours) then preempt the engine's
    # compute. Where the machine refuses realtime scheduling, jackd says so and runs without it.
    server = subprocess.Popen(["jackd", "--realtime", "-d", "dummy", "-r", str(request.param), "-p", "512"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    assert server.poll() is None, "jackd did not start"
    server.rate = request.param
    import sounddevice

    while sounddevice._initialized:  # PortAudio lists devices when it starts: restart it to see this server
        sounddevice._terminate()
    sounddevice._initialize()
    yield server
    try:
        sounddevice._terminate()
    finally:
        server.terminate()
        server.wait(timeout=10)
        sounddevice._initialize()  # as the other tests find it: started, without this server


class Capture:
    """A JACK client that records whatever output ports it is connected to (two inputs)."""

    def __init__(self):
        import jack

        self.client = jack.Client("mg-capture", no_start_server=True)
        self.inputs = [self.client.inports.register(f"in_{i}") for i in (1, 2)]
        self.blocks = []
        self.client.set_process_callback(lambda frames: self.blocks.append(
            np.stack([p.get_array().copy() for p in self.inputs], axis=1)))
        self.client.activate()

    def follow(self, stop: threading.Event) -> None:
        """Connect the first output ports of another client (not the server's) as soon as they appear."""
        outputs = lambda: [p for p in self.client.get_ports(is_output=True, is_audio=True)  # noqa: E731
                           if not p.name.startswith(("system:", "mg-capture:"))]
        while not stop.is_set():
            if outputs():
                time.sleep(0.05)  # a client registers its ports one by one: let the second appear too
                for port, target in zip(outputs()[:2], self.inputs):
                    self.client.connect(port, target)
                return
            time.sleep(0.005)

    def audio(self) -> np.ndarray:
        self.client.deactivate()
        self.client.close()
        return np.concatenate(self.blocks)


def assert_no_gap(summary: str, seconds: str) -> None:
    """mg-live's summary line: it played `seconds` and its own buffer never ran dry. A gap the card made
    is counted apart: the audio callback runs Python, and on a busy 2-core machine it can, rarely, wait
    past a period for the interpreter lock (here about one 20-second run in twenty, realtime server or
    not). One such gap is let pass; more would be a fault of ours."""
    assert f"played {seconds} s" in summary, summary
    gaps = re.search(r"underruns (\d+)(?: \((\d+) from the card\))?", summary)
    total, cards = int(gaps[1]), int(gaps[2] or 0)
    assert total == cards <= 1, summary


def snr_db(played: np.ndarray, reference: np.ndarray) -> float:
    """`played` (what the capture heard, silence before) against `reference`, at the best whole-sample
    offset; the last 50 ms are left out (the resampler's tail is not flushed at the end)."""
    lag = int(np.argmax(np.correlate(played[: len(reference) + 48000], reference[:4096], "valid")))
    n = min(len(reference), len(played) - lag) - 2400
    error = played[lag : lag + n] - reference[:n]
    snr = 10 * np.log10(np.sum(reference[:n] ** 2) / max(np.sum(error**2), 1e-30))
    print(f"SNR {snr:.1f} dB over {n} samples")
    return snr


@pytest.mark.parametrize("mode", ["portaudio", "portaudio output 2", "jack"])
def test_plays_at_the_card_rate(jack_server, mode, tmp_path):
    """Resampled to the server's rate on the way out, 0 underruns, and what was heard equals an offline
    soxr resample of mg-live's own recording (≥ 40 dB), on the outputs asked for: up to a gap the card
    made, if one came (what follows it is heard a period late)."""
    take, log = tmp_path / "take.wav", tmp_path / "take.jsonl"
    command = [sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--seconds", "6", "--record", str(take),
               "--osc-port", "0", "--headless", "--log", str(log)]
    command += {"jack": ["--jack", "--jack-connect", "mg-capture:in_.*"], "portaudio output 2": ["--channels", "2"],
                "portaudio": []}[mode]
    capture, stop = Capture(), threading.Event()
    if mode != "jack":  # PortAudio's JACK client connects to the system ports; the capture listens too
        follower = threading.Thread(target=capture.follow, args=(stop,))
        follower.start()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    finally:
        stop.set()
        played = capture.audio()
    assert result.returncode == 0, result.stderr
    assert f"at {jack_server.rate} Hz (resampled from 32000 Hz)" in result.stderr, result.stderr
    assert_no_gap(result.stderr.strip().splitlines()[-1], "6.00")
    recorded, rate = sf.read(str(take), dtype="float32")
    reference = soxr.resample(recorded, rate, jack_server.rate, quality="HQ")
    card_gaps = [r["t"] for r in map(json.loads, log.read_text().splitlines()) if r.get("card")]
    if card_gaps:
        reference = reference[: int((card_gaps[0] - 0.1) * jack_server.rate)]
    heard = {"jack": [0, 1], "portaudio": [0], "portaudio output 2": [1]}[mode]  # --jack: mono feeds L and R
    for channel in heard:
        assert snr_db(played[:, channel], reference) >= 40
    if mode == "portaudio output 2":
        assert not played[:, 0].any()  # output 1 stays silent


def test_lists_and_picks_devices(jack_server, tmp_path):
    listing = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--list-devices"], capture_output=True,
                             text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    line = next(line for line in listing.stdout.splitlines() if "JACK" in line)
    assert f"{jack_server.rate} Hz" in line and "2 output(s)" in line
    index = line.split()[1] if line.startswith("*") else line.split()[0]
    for device in (index, "SYST"):  # an index, or a part of a name in any case
        result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--seconds", "1", "--osc-port", "0",
                                 "--headless", "--device", device], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "system at" in result.stderr, result.stderr
    result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--seconds", "1", "--osc-port", "0",
                             "--headless", "--device", "no such card"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "mg-live: no output device matching 'no such card' (mg-live --list-devices lists them)"
    for asked, refusal in ((["--sample-rate", "22050"], "system: cannot play at 22050 Hz on 1 output(s)"),
                           (["--channels", "3"], "system has 2 output(s), not 3")):
        result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--seconds", "1", "--osc-port", "0",
                                 "--headless", *asked], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and result.stderr.startswith(f"mg-live: {refusal}"), result.stderr


def test_twenty_seconds_without_underrun(jack_server):
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--seconds", "20"],
                            capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert_no_gap(result.stderr.strip().splitlines()[-1], "20.00")
    assert elapsed >= 19  # paced by the sound card, not rendered ahead


def test_slow_generator_underruns_into_silence(jack_server):
    loaded = loading.load("tiny")
    sink = SoundDeviceSink(32000, 1, buffer_ms=60)
    blocks = []
    read_into = sink.ring.read_into

    def spy(out):
        ok = read_into(out)
        blocks.append(np.abs(out).max())
        return ok

    sink.ring.read_into = spy
    engine = StreamingEngine(loaded, "slow", SamplingParams(), sink)
    next_frames = engine.generator.next_frames

    def slow_frames(count):
        time.sleep(0.04 * count)  # two times slower than real time
        return next_frames(count)

    engine.generator.next_frames = slow_frames
    engine.run(2.0)
    assert sink.underruns > 0
    assert min(blocks[len(blocks) // 2 :]) == 0.0  # gaps are silence
    assert engine.metrics.samples == 64000  # and the stream went on to the end


def test_a_jack_xrun_counts_as_an_underrun_while_mg_live_plays(jack_server):
    """Another client of the graph misses its period: every output has a gap. While mg-live primes its
    buffer that gap is silence in silence and counts nothing; while it plays it counts, with its place in
    the event log's queue, though mg-live's own ring never ran dry."""
    import jack

    from mg_live.engine.audio import JackSink

    sink = JackSink(32000, 1, buffer_ms=100, connect=[])
    slow, late, xruns = jack.Client("mg-slow", no_start_server=True), [0], [0]

    def process(frames):
        if late[0]:
            late[0] -= 1
            time.sleep(0.05)  # five periods of 512 samples

    def wait_for(condition) -> bool:
        deadline = time.monotonic() + 5
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        return condition()

    def xrun() -> None:
        seen, late[0] = xruns[0], 3
        assert wait_for(lambda: late[0] == 0 and xruns[0] > seen), "the slow client made no xrun"

    slow.inports.register("in")
    slow.set_process_callback(process)
    slow.set_xrun_callback(lambda delayed_usecs: xruns.__setitem__(0, xruns[0] + 1))
    sink.start()
    slow.activate()
    try:
        xrun()
        time.sleep(0.1)  # mg-live's own notice of it comes on its own thread
        assert sink.underruns == 0 and sink.ring.waiting
        sink.write(np.full((32000, 1), 0.1, np.float32))  # a second of sound: it plays
        assert wait_for(lambda: sink.ring.started)
        xrun()
        assert wait_for(lambda: sink.ring.card_gaps > 0)
        assert sink.ring.underruns == 0 and sink.ring.fill > 0  # the ring itself never ran dry
        assert all(card for _, card in sink.ring.underrun_at)
    finally:
        slow.deactivate()
        slow.close()
        sink.close()


def test_midi_through_jack(jack_server):
    """A real MIDI port: a virtual JACK output (the 'controller') played into mg-live's MIDI input."""
    import mido

    from mg_live.live.midi import CCBinding, MidiInput, MidiMap, MidiRouter
    from mg_live.live.params import Registry

    jack = mido.Backend("mido.backends.rtmidi/UNIX_JACK")
    got = []
    router = MidiRouter(MidiMap(cc=[CCBinding(1, "cfg", 1.0, 9.0)]), Registry(), lambda p, v: got.append((p, v)))
    keys = jack.open_output("mg-test-keys", virtual=True)
    midi = MidiInput(router, "mg-test-keys", open_input=jack.open_input, input_names=jack.get_input_names,
                     check_s=0.1).start()
    try:
        deadline = time.monotonic() + 5
        while midi.port_name is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        keys.send(mido.Message("control_change", control=1, value=127))
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got == [("cfg", 9.0)]
        keys.close()  # unplugged: mg-live plays on and waits for it
        while midi.port_name is not None and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        assert midi.port_name is None
        keys = jack.open_output("mg-test-keys", virtual=True)
        while midi.connects < 2 and time.monotonic() < deadline + 10:
            time.sleep(0.02)
        assert midi.connects == 2
    finally:
        midi.close()
        keys.close()
