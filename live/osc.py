"""OSC in (the registry's address space) and telemetry out, over UDP.

The receiving thread only parses, validates and enqueues: nothing it does can block or stop the audio.
Malformed, empty and truncated datagrams, unknown addresses, wrong types and out-of-range values are
counted (and logged once per kind) by the registry. Bundles are honoured: their messages apply at their
timetag (a time up to 10 s ahead; later ones apply at once and are counted).

What clients send, as they send it: an action (/mg/play, /mg/reset, …) takes no argument or one, and a
number 0 is a button's release (ignored, so a press and release fire once); a text (/mg/prompt, …) takes
one string or several atoms, joined with spaces (Pd and Max send a typed sentence as a list of words).
"""

from __future__ import annotations

import heapq
import itertools
import re
import socket
import struct
import time

from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient

from .params import BY_NAME, PARAMS, BadValue, Registry
from .worker import Worker

RECEIVE_BUFFER = 4 << 20  # bursts from a fader sweep overflow the default socket buffer
MAX_AHEAD = 10.0  # seconds a bundle may be scheduled ahead
_NUMBERED = {re.compile("^" + p.osc.replace("/N/", r"/(\d+)/") + "$"): p for p in PARAMS if p.numbered}
_SIZES = {"i": 4, "f": 4, "c": 4, "r": 4, "m": 4, "d": 8, "h": 8, "t": 8, "s": 4, "S": 4, "b": 4}


def complete(dgram: bytes) -> bool:
    """Whether an OSC message holds the bytes its type tags promise (python-osc reads a truncated float
    as 0.0: `/mg/cfg ,f` with no data would apply cfg 0)."""
    try:
        end = dgram.index(b"\0")  # address
        at = (end // 4 + 1) * 4
        if at >= len(dgram) or dgram[at : at + 1] != b",":
            return at >= len(dgram)  # no type tags: no arguments
        end = dgram.index(b"\0", at)
        tags = dgram[at + 1 : end].decode("ascii")
        at = (end // 4 + 1) * 4
        return len(dgram) - at >= sum(_SIZES.get(t, 0) for t in tags)
    except (ValueError, UnicodeDecodeError):
        return False


def words(args: list) -> str:
    """A text from one or several atoms (numbers as written: 120 bpm, not 120.0 bpm)."""
    return " ".join(f"{a:g}" if isinstance(a, float) else str(a) for a in args)


class OscServer(Worker):
    """`deliver(param, value)` is called for every valid message (from the receiving thread)."""

    thread_name = "mg-osc-in"

    def __init__(self, registry: Registry, deliver, host: str = "127.0.0.1", port: int = 9000):
        super().__init__()
        self.registry, self.deliver = registry, deliver
        self.routes = {p.osc: p for p in PARAMS if not p.numbered}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sock.bind((host, port))
        self.address = self.sock.getsockname()
        self.received = 0
        self.last_message = 0.0
        self._scheduled: list = []  # (due, order, address, args): bundle messages waiting for their time
        self._order = itertools.count()

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self._scheduled[0][0] - time.time() if self._scheduled else 0.2
            self.sock.settimeout(min(0.2, max(0.001, due)))
            try:
                data, _ = self.sock.recvfrom(65536)
            except (socket.timeout, BlockingIOError):
                data = None
            if data is not None:
                self.receive(data)
            while self._scheduled and self._scheduled[0][0] <= time.time():
                _, _, address, args = heapq.heappop(self._scheduled)
                self.handle(address, args)

    def receive(self, data: bytes) -> None:
        self.received += 1
        self.last_message = time.monotonic()
        if not data:
            self.registry.count("malformed packet", "an empty datagram")
            return
        try:
            timed = OscPacket(data).messages
        except Exception as e:  # noqa: BLE001 - any undecodable datagram is just counted
            self.registry.count("malformed packet", f"{len(data)} bytes: {type(e).__name__}")
            return
        now = time.time()
        for item in timed:
            message = item.message
            if not complete(message.dgram):
                self.registry.count("malformed packet", f"{message.address}: truncated arguments")
                continue
            ahead = item.time - now
            if ahead > MAX_AHEAD:
                self.registry.count("timetag too far ahead", f"{message.address}: {ahead:.0f} s ahead, applied now")
            elif ahead > 0.001:
                heapq.heappush(self._scheduled, (item.time, next(self._order), message.address, list(message.params)))
                continue
            self.handle(message.address, list(message.params))

    def handle(self, address: str, args: list) -> None:
        n, param = None, self.routes.get(address)
        for pattern, numbered in _NUMBERED.items() if param is None else ():
            if match := pattern.match(address):
                n, param = int(match.group(1)), numbered
                first, last = numbered.numbered
                if not first <= n <= last:
                    self.registry.count("unknown address", f"{address}: N is {first}–{last}")
                    return
        if param is None:
            self.registry.count("unknown address", address)
            return
        if param.kind == "action":
            if len(args) > 1:
                self.registry.count("wrong type", f"{address} takes one argument at most, got {len(args)}")
                return
            if args and isinstance(args[0], (int, float)) and not isinstance(args[0], bool) and args[0] == 0:
                return  # a button's release
            raw = args[0] if args and param.takes and isinstance(args[0], str) else None
        elif param.kind in ("text", "choice") and not (param.kind == "choice" and len(args) == 1):
            if not args or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args):
                self.registry.count("wrong type", f"{address} takes text, got {args!r}")
                return
            raw = words(args)
        else:
            if len(args) != 1:
                self.registry.count("wrong type", f"{address} takes 1 argument, got {len(args)}")
                return
            raw = args[0]
        try:
            value = self.registry.coerce(param.name, raw)
        except BadValue:
            return
        if n is not None:
            if param.kind == "action":  # a scene: its number is the value
                value = n
            elif n == 0 and param.name == "slot_prompt":  # slot 0 is the main prompt
                param = BY_NAME["prompt"]
            else:
                value = [n, value]
        self.deliver(param.name, value)

    def close(self) -> None:
        super().close()
        self.sock.close()


def reply_address(text: str) -> tuple[str, int]:
    """HOST:PORT for telemetry → (host, port), or ValueError saying what is wrong with it."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--osc-reply {text!r}: give HOST:PORT with a port 1–65535")
    host = host or "127.0.0.1"
    try:
        socket.getaddrinfo(host, int(port), socket.AF_INET, socket.SOCK_DGRAM)
    except socket.gaierror as e:
        raise ValueError(f"--osc-reply {text!r}: unknown host {host!r} ({e.strerror})") from None
    return host, int(port)


class Telemetry(Worker):
    """Status to `--osc-reply` a few times a second: /mg/status/<name> for each name in params.STATUS
    (`extra`: what the app adds to the engine's own, such as the bad input it ignored)."""

    thread_name = "mg-osc-out"

    def __init__(self, engine, host: str, port: int, rate_hz: float = 4.0, extra=None):
        super().__init__()
        self.engine, self.client, self.period = engine, SimpleUDPClient(host, port), 1.0 / rate_hz
        self.extra = extra  # more status (the app's ignored-input count)

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            status = self.engine.status() | (self.extra() if self.extra else {})
            for name, value in status.items():
                try:
                    self.client.send_message(f"/mg/status/{name}", value)
                except (OSError, struct.error):
                    pass  # nobody listening is fine

