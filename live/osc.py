"""OSC in (the registry's address space) and telemetry out, over UDP.

The receiving thread only parses, validates and enqueues: nothing it does can block or stop the audio.
Malformed datagrams, unknown addresses, wrong types and out-of-range values are counted (and logged once
per kind) by the registry.
"""

from __future__ import annotations

import re
import socket
import time

from pythonosc.osc_packet import OscPacket, ParseError
from pythonosc.udp_client import SimpleUDPClient

from .params import BY_NAME, PARAMS, SLOTS, BadValue, Registry
from .worker import Worker

RECEIVE_BUFFER = 4 << 20  # bursts from a fader sweep overflow the default socket buffer
_SLOT = re.compile(r"^/mg/slot/(\d+)/(prompt|weight)$")


class OscServer(Worker):
    """`deliver(param, value)` is called for every valid message (from the receiving thread)."""

    thread_name = "mg-osc-in"

    def __init__(self, registry: Registry, deliver, host: str = "127.0.0.1", port: int = 9000):
        super().__init__()
        self.registry, self.deliver = registry, deliver
        self.routes = {p.osc: p for p in PARAMS if "/N/" not in p.osc}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.sock.bind((host, port))
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self.received = 0
        self.last_message = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65536)
            except (socket.timeout, OSError):
                continue
            self.received += 1
            self.last_message = time.monotonic()
            try:
                messages = [m.message for m in OscPacket(data).messages]
            except (ParseError, Exception) as e:  # noqa: BLE001 - any undecodable datagram is just counted
                self.registry.count("malformed packet", f"{len(data)} bytes: {type(e).__name__}")
                continue
            for message in messages:
                self.handle(message.address, list(message.params))

    def handle(self, address: str, args: list) -> None:
        slot = _SLOT.match(address)
        if slot:
            n = int(slot.group(1))
            if not 0 <= n <= SLOTS:
                self.registry.count("unknown address", f"{address}: slots are 0–{SLOTS}")
                return
            param = BY_NAME["slot_" + slot.group(2)]
        else:
            param = self.routes.get(address)
            if param is None:
                self.registry.count("unknown address", address)
                return
        wanted = 1 if param.takes or param.kind != "action" else 0
        if len(args) != wanted:
            self.registry.count("wrong type", f"{address} takes {wanted} argument(s), got {len(args)}")
            return
        try:
            value = self.registry.coerce(param.name, args[0] if wanted else None)
        except BadValue:
            return
        if slot:
            n = int(slot.group(1))
            if n == 0:  # slot 0 is the main prompt
                param, value = (BY_NAME["prompt"], value) if param.name == "slot_prompt" else (param, [0, value])
            else:
                value = [n, value]
        self.deliver(param.name, value)

    def close(self) -> None:
        super().close()
        self.sock.close()


class Telemetry(Worker):
    """Status to `--osc-reply` a few times a second: /mg/status/<name> for each name in params.STATUS."""

    thread_name = "mg-osc-out"

    def __init__(self, engine, host: str, port: int, rate_hz: float = 4.0):
        super().__init__()
        self.engine, self.client, self.period = engine, SimpleUDPClient(host, port), 1.0 / rate_hz

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            for name, value in self.engine.status().items():
                try:
                    self.client.send_message(f"/mg/status/{name}", value)
                except OSError:
                    pass  # nobody listening is fine
