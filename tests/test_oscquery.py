"""Discovery as a client finds it: mg-live running, its OSCQuery namespace read over real HTTP (every
registry parameter with its type, range and current value), a value changed over real OSC seen there, and
the service found by a zeroconf browser on 127.0.0.1."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from pythonosc.udp_client import SimpleUDPClient

from mg_live.live.params import PARAMS


def free_port(kind=socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def live():
    osc, http = free_port(socket.SOCK_DGRAM), free_port()
    process = subprocess.Popen([sys.executable, "-m", "mg_live.live.app", "--model", "tiny", "--no-audio",
                                "--headless", "--seconds", "60", "--osc-port", str(osc), "--oscquery-port", str(http),
                                "--cfg", "4.5"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(http, "/mg/cfg?VALUE")["VALUE"]:
                break
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    yield osc, http
    process.terminate()
    assert process.wait(timeout=30) == 0, process.stderr.read()


def leaves(node):
    """The methods: nodes with a description (a method may also hold others: /mg/record, /mg/record/stop)."""
    if "DESCRIPTION" in node:
        yield node
    for child in node.get("CONTENTS", {}).values():
        yield from leaves(child)


def test_namespace_has_every_parameter(live):
    _, http = live
    tree = {leaf["FULL_PATH"]: leaf for leaf in leaves(get(http, "/"))}
    expected = {p.osc.replace("/N/", f"/{n}/") for p in PARAMS
                for n in (range(max(1, p.numbered[0]), p.numbered[1] + 1) if p.numbered else [0])}
    assert set(tree) == expected and "/mg/slot/8/weight" in tree and "/mg/scene/64/recall" in tree
    for param in PARAMS:
        leaf = tree[param.osc.replace("/N/", "/1/")]
        assert leaf["DESCRIPTION"] == param.doc
        if param.minimum is not None:
            assert leaf["RANGE"] == [{"MIN": param.minimum, "MAX": param.maximum}]
            assert leaf["TYPE"] == param.osc_type and len(leaf["VALUE"]) == 1
    assert tree["/mg/quantize"]["RANGE"] == [{"VALS": ["off", "beat", "bar", "2 bars", "4 bars", "8 bars"]}]
    assert tree["/mg/quantize"]["VALUE"] == ["off"] and tree["/mg/bpm"]["VALUE"] == [120.0]
    assert tree["/mg/cfg"]["VALUE"] == [4.5]
    assert tree["/mg/prompt"]["VALUE"] == ["warm analog synth pad with slow drums"]
    assert "VALUE" not in tree["/mg/reset"] and tree["/mg/reset"]["ACCESS"] == 2


def test_values_follow_osc_and_host_info(live):
    osc, http = live
    SimpleUDPClient("127.0.0.1", osc).send_message("/mg/temperature", 1.7)
    deadline = time.monotonic() + 10
    while get(http, "/mg/temperature?VALUE")["VALUE"] != [pytest.approx(1.7)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert get(http, "/mg/temperature?VALUE") == {"VALUE": [pytest.approx(1.7)]}
    info = get(http, "/?HOST_INFO")
    assert info["OSC_PORT"] == osc and info["OSC_TRANSPORT"] == "UDP" and info["EXTENSIONS"]["LISTEN"] is False
    with pytest.raises(urllib.error.HTTPError, match="404"):
        get(http, "/mg/volume")


def test_found_by_zeroconf(live):
    from zeroconf import IPVersion, ServiceBrowser, Zeroconf

    _, http = live
    found = []

    class Listener:
        def add_service(self, zc, kind, name):
            found.append(zc.get_service_info(kind, name))

        update_service = remove_service = lambda *args: None

    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        ServiceBrowser(zc, "_oscjson._tcp.local.", Listener())
        deadline = time.monotonic() + 15
        while not any(i and i.port == http for i in found) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        zc.close()
    service = next(i for i in found if i and i.port == http)
    assert service.parsed_addresses() == ["127.0.0.1"]
