"""Real paced audio through PortAudio, against a JACK server with its dummy driver (Debian jackd2 +
libportaudio2; .ci/run installs them). PortAudio is shut down before JACK, or the process aborts at exit."""

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from mg_live.engine import loading
from mg_live.engine.audio import SoundDeviceSink
from mg_live.engine.generation import SamplingParams
from mg_live.engine.streaming import StreamingEngine

pytestmark = pytest.mark.skipif(shutil.which("jackd") is None, reason="jackd (Debian jackd2) not installed")


@pytest.fixture(scope="module")
def jack_server():
    server = subprocess.Popen(["jackd", "--no-realtime", "-d", "dummy", "-r", "32000", "-p", "512"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    assert server.poll() is None, "jackd did not start"
    yield server
    try:
        import sounddevice

        sounddevice._terminate()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_twenty_seconds_without_underrun(jack_server):
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--seconds", "20"],
                            capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    summary = result.stderr.strip().splitlines()[-1]
    assert "played 20.00 s" in summary and "underruns 0" in summary, summary
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
