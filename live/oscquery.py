"""Discovery: an OSCQuery server (the Vidvox proposal) so that TouchDesigner's OSCQuery components, Max's
OSCQuery clients and the like list and bind every parameter without a patch. The namespace (types,
ranges, units, descriptions, current values) is made from the registry; the service is advertised over
mDNS (`_oscjson._tcp`) with `zeroconf`. Values are read on request; LISTEN (pushed values over a
WebSocket) is not offered, and HOST_INFO says so: clients poll, or take `--osc-reply` telemetry.
"""

from __future__ import annotations

import json
import logging
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from .params import PARAMS, Param
from .worker import Worker

log = logging.getLogger("mg-live")

SERVICE = "_oscjson._tcp.local."
READ, WRITE = 1, 2


def _leaf(param: Param, path: str, value) -> dict:
    node = {"FULL_PATH": path, "DESCRIPTION": param.doc, "ACCESS": WRITE if param.kind == "action" else READ | WRITE}
    if param.kind != "action" or param.takes:
        node["TYPE"] = param.takes or param.osc_type
    if param.choices:
        node["RANGE"] = [{"VALS": list(param.choices)}]
    elif param.minimum is not None:
        node["RANGE"] = [{"MIN": param.minimum, "MAX": param.maximum}]
    if param.unit:
        node["UNIT"] = [param.unit]
    if value is not None:
        node["VALUE"] = [value]
    return node


def namespace(settings: dict) -> dict:
    """The whole OSCQuery tree for these current settings (engine.settings())."""
    leaves: dict[str, dict] = {}
    slots = settings.get("slots", {})
    for param in PARAMS:
        if param.numbered:  # one node per blend slot (1–8) and per scene
            for n in range(max(1, param.numbered[0]), param.numbered[1] + 1):
                text, weight = slots.get(str(n), ["", 0.0])
                path = param.osc.replace("/N/", f"/{n}/")
                value = None if param.kind == "action" else text if param.kind == "text" else weight
                leaves[path] = _leaf(param, path, value)
        else:
            leaves[param.osc] = _leaf(param, param.osc, settings.get(param.name))
    root = {"FULL_PATH": "/", "ACCESS": 0, "CONTENTS": {}}
    for path, leaf in leaves.items():  # a node may be both a method and a container (/mg/record/stop)
        node, parts = root, path.strip("/").split("/")
        for depth, part in enumerate(parts[:-1]):
            node = node["CONTENTS"].setdefault(part, {"FULL_PATH": "/" + "/".join(parts[: depth + 1]), "ACCESS": 0})
            node.setdefault("CONTENTS", {})
        node["CONTENTS"][parts[-1]] = leaf | node["CONTENTS"].get(parts[-1], {})
    return root


def find(tree: dict, path: str) -> dict | None:
    node = tree
    for part in [p for p in path.strip("/").split("/") if p]:
        node = node.get("CONTENTS", {}).get(part)
        if node is None:
            return None
    return node


class OscQueryServer(Worker):
    """HTTP on `host:port` (0 picks a free one), answering for the OSC server on `osc_port`; `settings()`
    gives the current values. Advertised with mDNS once started (a failure there is one line: discovery by
    address still works)."""

    thread_name = "mg-oscquery"

    def __init__(self, settings, host: str, port: int, osc_port: int, name: str = "mg-live"):
        super().__init__()
        self.settings, self.osc_port, self.name = settings, osc_port, name
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                try:
                    server._answer(self)
                except Exception as e:  # noqa: BLE001 - a client's odd request never ends the server
                    self.send_error(500, f"{type(e).__name__}: {e}")

            def log_message(self, *args):  # no line per request on the performer's terminal
                pass

        self.http = ThreadingHTTPServer((host, port), Handler)
        self.http.daemon_threads = True
        self.address = self.http.server_address
        self.zeroconf = self.service = None

    def host_info(self) -> dict:
        return {"NAME": self.name, "OSC_PORT": self.osc_port, "OSC_TRANSPORT": "UDP",
                "EXTENSIONS": {"ACCESS": True, "VALUE": True, "RANGE": True, "DESCRIPTION": True, "UNIT": True,
                               "TYPE": True, "LISTEN": False, "PATH_CHANGED": False}}

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        attribute = url.query.split("=")[0].upper()
        if attribute == "HOST_INFO":
            body = self.host_info()
        else:
            node = find(namespace(self.settings()), unquote(url.path))
            if node is None:
                request.send_error(404, "no such OSC address")
                return
            if attribute and attribute not in node:
                request.send_error(204 if attribute == "VALUE" else 400, "no such attribute")
                return
            body = {attribute: node[attribute]} if attribute else node
        data = json.dumps(body).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _run(self) -> None:
        if self.zeroconf is None:
            self._advertise()
        self.http.serve_forever(poll_interval=0.2)

    def _advertise(self) -> None:
        try:
            from zeroconf import IPVersion, ServiceInfo, Zeroconf

            host = self.address[0]
            if host in ("0.0.0.0", ""):
                host = socket.gethostbyname(socket.gethostname())
            loopback = host.startswith("127.")
            self.zeroconf = Zeroconf(interfaces=[host] if loopback else None, ip_version=IPVersion.V4Only)
            self.service = ServiceInfo(SERVICE, f"{self.name}.{SERVICE}", port=self.address[1],
                                       addresses=[socket.inet_aton(host)], server=f"{self.name}.local.")
            self.zeroconf.register_service(self.service, allow_name_change=True)
        except Exception as e:  # noqa: BLE001 - no multicast here: discovery by address still works
            log.warning("OSCQuery is not advertised over mDNS (%s: %s); clients can still use http://%s:%d",
                        type(e).__name__, e, *self.address)
            self.zeroconf = False

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self.http.shutdown()
        super().close()
        self.http.server_close()
        if self.zeroconf:
            self.zeroconf.unregister_service(self.service)
            self.zeroconf.close()
