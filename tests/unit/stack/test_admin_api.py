"""The supervisor's admin API under misuse, on a real `AdminServer` on 127.0.0.1 in front of a
stand-in supervisor (the real GPU and volume faults on a temporary folder; processes
recorded, never started): every field checked (types, ranges, finite numbers), a 4xx with
a message otherwise, never a dropped connection; slow clients cut off and connections
capped. Ends with a fuzz over every route: 0 5xx, 0 dropped connections, 0 hangs."""
import json
import socket
import threading
import time
from contextlib import contextmanager

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlqa.stack._admin import AdminServer, handler
from mlqa.stack._faults import DeviceFaults
from mlqa.stack._store import write_json

ADMIN = "admin-token-7d6c5b"
NODES = {"zone-a-node-1": "zone-a", "zone-b-node-1": "zone-b"}


class FakeTraining:
    def __init__(self):
        self.started = []

    def start(self, overrides):
        self.started.append(overrides)
        return {"job_id": "fake"}

    def stop(self, reason=""):
        return None


class FakeSupervisor(DeviceFaults):
    """The admin API's view of a supervisor: real GPU and volume state, recorded process
    operations."""

    def __init__(self, folder):
        self.dir = folder
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.nodes = {n: {"zone": z, "status": "up", "since": 0.0, "restart_at": None, "restarts": 0}
                      for n, z in NODES.items()}
        self.stress, self.fault_since, self.calls = {}, {}, []
        self.secrets = {"admin": ADMIN}
        self.training = FakeTraining()
        for n in NODES:
            write_json(self.gpus_file(n), [{"index": i, "healthy": True, "xid": None, "reason": None}
                                           for i in range(2)])

    def _event(self, kind, **detail):
        self.calls.append((kind, detail))

    def _record(self, *call):
        self.calls.append(call)
        return {"recorded": list(call)}

    def kill_node(self, name):
        self._record("kill", name)
        return []

    def restart_node(self, name):
        self._record("restart", name)

    def pause_node(self, name):
        self._record("pause", name)

    def resume_node(self, name):
        self._record("resume", name)

    def zone_nodes(self, zone):
        found = [n for n, z in NODES.items() if z == zone]
        if not found:
            raise KeyError(f"no zone {zone!r}")
        return found

    def pause_zone(self, zone):
        return self.zone_nodes(zone)

    def resume_zone(self, zone):
        return self.zone_nodes(zone)

    def degrade_zone(self, zone, body):
        self.zone_nodes(zone)
        return self._record("degrade", zone, body)

    def kill_component(self, name):
        if name not in ("gateway", "zone-a-node-1/replica-1"):
            raise KeyError(f"no component {name!r}")
        self._record("kill_component", name)
        return []

    def stress_node(self, name, cpus=1):
        return self._record("stress", name, cpus)

    def unstress_node(self, name):
        return self._record("unstress", name)

    def state(self):
        return {"nodes": [{"name": n, "gpus": self.gpus(n)} for n in NODES], "faults": self.faults({})}

    def shutdown(self):
        self._record("shutdown")


@contextmanager
def admin_api(folder, **bounds):
    sup = FakeSupervisor(folder)
    server = AdminServer(("127.0.0.1", 0), handler(sup), **bounds)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sup, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with admin_api(tmp_path_factory.mktemp("admin")) as found:
        yield found


def call(url, method, path, body=None, *, raw=None, headers=None, token=ADMIN):
    h = {"Authorization": f"Bearer {token}", **(headers or {})}
    content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    return httpx.request(method, url + path, content=content, headers=h, timeout=10)


# -- the reported defects, each with its twin --------------------------------------------------------

def test_gpu_index_minus_one_is_404_and_heals_nothing(api):
    """The issue: GPU index -1 healed GPU 1 (Python's negative indexing)."""
    url, sup, _ = api
    assert call(url, "POST", "/nodes/zone-a-node-1/gpus/1/fault", {"xid": 48}).status_code == 200
    try:
        for index in ("-1", "99", "%D9%A1", "1_0", "+1", "0x1", " 1"):
            r = call(url, "POST", f"/nodes/zone-a-node-1/gpus/{index}/heal")
            assert r.status_code == 404 and "GPU" in r.json()["error"], (index, r.text)
        assert sup.gpus("zone-a-node-1")[1]["healthy"] is False, "GPU 1 must still be faulted"
    finally:
        assert call(url, "POST", "/nodes/zone-a-node-1/gpus/1/heal").status_code == 200   # the twin
    assert sup.gpus("zone-a-node-1")[1]["healthy"] is True


@pytest.mark.parametrize("path, body", [
    ("/nodes/zone-a-node-1/gpus/0/fault", b"[]"), ("/nodes/zone-a-node-1/gpus/0/fault", b"[1, 2]"),
    ("/nodes/zone-a-node-1/stress", b'["cpus"]'), ("/training/start", b"[]"), ("/training/start", b'"steps"'),
    ("/nodes/zone-a-node-1/kill", b"null"), ("/nodes/zone-a-node-1/gpus/0/fault", b'{"xid": 1e400}'),
    ("/nodes/zone-a-node-1/gpus/0/fault", b'{"xid": NaN}'), ("/nodes/zone-a-node-1/gpus/0/fault", b'{"xid": "79"}'),
    ("/nodes/zone-a-node-1/gpus/0/fault", b'{"xid": 79.5}'), ("/nodes/zone-a-node-1/gpus/0/fault", b'{"xid": 0}'),
    ("/nodes/zone-a-node-1/gpus/0/fault", b'{"xid": %s}' % (b"9" * 4301)),
    ("/nodes/zone-a-node-1/stress", b'{"cpus": true}'), ("/nodes/zone-a-node-1/stress", b'{"cpus": 0}'),
    ("/nodes/zone-a-node-1/stress", b'{"cpus": 1, "extra": 1}'), ("/nodes/zone-a-node-1/kill", b'{"now": true}'),
    ("/training/start", b'{"steps": -5}'), ("/training/start", b'{"steps": 100000000000}'),
    ("/training/start", b'{"lr": NaN}'), ("/training/start", b'{"seed": 99999999999}'),
    ("/training/start", b'{"step_time_s": 1e9}'), ("/training/start", b'{"stepz": 5}'),
    ("/zones/zone-a/network", b'{"latency_ms": NaN}'), ("/zones/zone-a/network", b'{"latency_ms": -5}'),
    ("/zones/zone-a/network", b'{"drop": 2}'), ("/zones/zone-a/network", b"{"), ("/zones/zone-a/network", b"\xff\xfe"),
    ("/zones/zone-a/network", b"[" * 100_000),
])
def test_a_bad_body_is_400_with_a_message_never_a_dropped_connection(api, path, body):
    """On main a list body or an infinite xid dropped the connection, a NaN latency was taken
    and `steps: -5` was a 409."""
    url, sup, _ = api
    before = len(sup.calls), len(sup.training.started)
    method = "PUT" if path.endswith("/network") else "POST"
    r = call(url, method, path, raw=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 413), (r.status_code, r.text)
    assert r.json()["error"]
    assert (len(sup.calls), len(sup.training.started)) == before, "nothing acted on a refused request"


@pytest.mark.parametrize("method, path, body, effect", [
    ("POST", "/nodes/zone-a-node-1/gpus/0/fault", {"xid": 79}, None),
    ("POST", "/nodes/zone-a-node-1/gpus/0/heal", None, None),
    ("POST", "/nodes/zone-b-node-1/stress", {"cpus": 2}, ("stress", "zone-b-node-1", 2)),
    ("PUT", "/zones/zone-a/network", {"latency_ms": 5, "drop": 0.5}, ("degrade", "zone-a",
                                                                       {"latency_ms": 5.0, "drop": 0.5})),
    ("POST", "/training/start", {"steps": 50, "lr": 0.1}, None),
    ("POST", "/nodes/zone-a-node-1/kill", {}, ("kill", "zone-a-node-1")),
    ("POST", "/components/zone-a-node-1%2Freplica-1/kill", None, ("kill_component", "zone-a-node-1/replica-1")),
    ("GET", "/state", None, None),
])
def test_sound_requests_are_carried_out_twin(api, method, path, body, effect):
    url, sup, _ = api
    r = call(url, method, path, body)
    assert r.status_code == 200, r.text
    if effect is not None:
        assert sup.calls[-1] == effect


@pytest.mark.parametrize("headers, status", [({"Content-Length": "abc"}, 400), ({"Content-Length": "-1"}, 400),
                                             ({"Content-Length": "99999999999"}, 413),
                                             ({"Transfer-Encoding": "chunked"}, 411)])
def test_a_bad_content_length_is_4xx(api, headers, status):
    url, _, _ = api
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"POST /nodes/zone-a-node-1/kill HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n"
                     f"{head}\r\n".encode())
        answer = sock.recv(4096)
    assert answer.startswith(f"HTTP/1.0 {status}".encode()), answer[:100]


def test_unknown_routes_nodes_and_wrong_tokens(api):
    url, _, _ = api
    assert call(url, "POST", "/nodes/zone-z-node-9/kill").status_code == 404
    assert call(url, "POST", "/zones/zone-z/pause").status_code == 404
    assert call(url, "DELETE", "/state").status_code == 404
    assert call(url, "GET", "/state", token="wrong").status_code == 401
    assert call(url, "GET", "/state?x=1").status_code == 200


# -- slow clients, connection cap --------------------------------------------------------------------

def test_slow_clients_are_cut_off_and_connections_capped(tmp_path):
    """The issue: 100 slow connections held for 40 s grew the supervisor by 150 threads."""
    # the cut-off is not tight: were it shorter than a stall of the accept loop on a busy
    # machine, the first four would be cut off before the rest were accepted (no 503 seen)
    with admin_api(tmp_path, max_connections=4, read_timeout_s=3.0) as (url, _, server):
        port = int(url.rsplit(":", 1)[1])
        slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
        try:
            for s in slow:
                s.sendall(b"POST /state HTTP/1.1\r\nHost: x\r\n")     # headers never finished
            assert server.active <= 4
            answers = []
            for s in slow:                   # each is cut off (or refused 503), within a generous bound
                s.settimeout(15)
                data = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                answers.append(data)
            assert all(a == b"" or a.startswith(b"HTTP/1.0 503") for a in answers), answers
            assert any(a.startswith(b"HTTP/1.0 503") for a in answers), "past the cap: 503"
        finally:
            for s in slow:
                s.close()
        for _ in range(200):                                   # bounded: the threads end
            if server.active == 0:
                break
            time.sleep(0.05)
        assert server.active == 0
        assert call(url, "GET", "/state").status_code == 200    # the twin: served again


# -- the fuzz ---------------------------------------------------------------------------------------

SEGMENTS = st.sampled_from(["nodes", "zones", "gpus", "training", "components", "volumes", "state", "zone-a",
                            "zone-a-node-1", "zone-b-node-1", "checkpoints", "0", "1", "-1", "99", "%D9%A1",
                            "kill", "restart", "pause", "resume", "network", "stress", "unstress", "fill",
                            "unfill", "fault", "heal", "start", "stop", "..", "%2e%2e", "gateway", "x" * 300])
VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False)
                      | st.text(max_size=8), lambda c: st.lists(c, max_size=3)
                      | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=6)
FIELDS = st.sampled_from(["xid", "cpus", "latency_ms", "drop", "steps", "lr", "seed", "nodes", "batch_size",
                          "step_time_s", "checkpoint_write_errors", "min_nodes", "other"])
RAW = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e400", b"9" * 4301, b"-0", b"[]", b"{}", b"null",
                       b"\xff", b'"\\ud800"', b"[" * 2000, b""])


@st.composite
def admin_requests(draw):
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    parts = draw(st.lists(SEGMENTS, min_size=1, max_size=5))
    assume(parts != ["shutdown"])
    kind = draw(st.integers(0, 2))
    if kind == 0:
        body = json.dumps(draw(st.dictionaries(FIELDS, VALUES, max_size=3))).encode()
    elif kind == 1:
        field, raw = draw(FIELDS), draw(RAW)
        body = b'{"%s": %s}' % (field.encode(), raw)
    else:
        body = draw(RAW)
    return method, "/" + "/".join(parts), body


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=10) as client:
        yield client


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=admin_requests())
def test_fuzz_the_admin_api_no_5xx_no_dropped_connection_no_hang(api, http, request):
    url, _, _ = api
    method, path, body = request
    try:
        r = http.request(method, url + path, content=body,
                         headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        pytest.fail(f"{method} {path} {body[:60]!r}: no answer ({type(exc).__name__})")
    assert r.status_code < 500, (method, path, body[:80], r.text[:200])
    assert isinstance(r.json(), dict)
