"""The defects of issue 12 on a real stack on 127.0.0.1 (supervisor, gateway and replicas as
processes; one stack for the module) and a real `mlqa serve` process: the admin API refuses
a NaN latency, GPU index -1 or 99, a list body and `steps: -5` with a 4xx (never a dropped
connection, never a 500 afterwards); the gateway does not forward `/v2/models/%2e%2e` to a
replica; a bad startup flag is exit 2. Ends with a short fuzz of the supervisor's and the
gateway's routes. The thorough fuzz runs in process (tests/unit/test_serve_fuzz.py,
tests/unit/stack/test_admin_api.py)."""
import json
import os
import subprocess
import sys

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlqa.procs import tagged
from mlqa.stack import down, up
from mlqa.stack._topology import parse_topology
from mlqa.yamldoc import load_yaml

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

TOPOLOGY = """
zones: [zone-a, zone-b]
nodes_per_zone: 1
gpus_per_node: 2
replicas_per_node: 1
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    d = tmp_path_factory.mktemp("stack-hardening")
    try:
        yield up(parse_topology(load_yaml(TOPOLOGY, "hardening-topology.yaml")), d, owner_pid=os.getpid())
    finally:
        down(d)
    assert not tagged(MLQA_STACK_ID=json.loads((d / "plan.json").read_text())["stack_id"]), "nothing left running"


def admin(stack, method, path, body: bytes = b""):
    return httpx.request(method, stack.control_url + path, content=body, timeout=30,
                         headers={"Authorization": f"Bearer {stack.admin_token}", "Content-Type": "application/json"})


def gateway_admin(stack) -> dict:
    """The credential of the gateway's admin routes (its own, narrower than the stack's)."""
    return {"Authorization": f"Bearer {getattr(stack, 'gateway_token', stack.admin_token)}"}


def infer(stack):
    return httpx.post(f"{stack.gateway_url}/v2/models/model/infer", json=stack.sample_payload(), timeout=10,
                      headers={"Authorization": f"Bearer {stack.token}"})


def test_the_admin_api_refuses_what_is_out_of_range_and_stays_whole(stack):
    node = "zone-a-node-1"
    assert admin(stack, "POST", f"/nodes/{node}/gpus/1/fault", b'{"xid": 48}').status_code == 200
    try:
        for index in ("-1", "99"):
            r = admin(stack, "POST", f"/nodes/{node}/gpus/{index}/heal")
            assert r.status_code == 404, r.text
        gpus = next(n["gpus"] for n in stack.state()["nodes"] if n["name"] == node)
        assert gpus[1]["healthy"] is False, "GPU 1 is still faulted: -1 healed nothing"
    finally:
        assert admin(stack, "POST", f"/nodes/{node}/gpus/1/heal").status_code == 200
    for method, path, body in [("PUT", "/zones/zone-a/network", b'{"latency_ms": NaN}'),
                               ("PUT", "/zones/zone-a/network", b'{"latency_ms": 1e400}'),
                               ("POST", f"/nodes/{node}/gpus/0/fault", b"[]"),
                               ("POST", f"/nodes/{node}/stress", b"[1]"),
                               ("POST", "/training/start", b'{"steps": -5}')]:
        r = admin(stack, method, path, body)
        assert r.status_code == 400 and r.json()["error"], (path, body, r.status_code, r.text)
    gw = httpx.put(f"{stack.gateway_url}/admin/zones/zone-a/network", content=b'{"latency_ms": NaN}', timeout=10,
                   headers=gateway_admin(stack))
    assert gw.status_code == 400
    s = stack.state()
    assert s["faults"] == [] and s["training"]["status"] == "idle"
    assert stack.gateway_state()["faults"]["zone-a"] == {"latency_s": 0.0, "drop": 0.0}
    assert all(infer(stack).status_code == 200 for _ in range(6)), "every zone still answers"


def test_the_gateway_does_not_forward_a_traversal(stack):
    """On main `/v2/models/%2e%2e` reached a replica's `/v2` (its server metadata, 200)."""
    h = {"Authorization": f"Bearer {stack.token}"}
    url = httpx.URL(stack.gateway_url + "/v2/models/%2e%2e")
    r = httpx.get(url, headers=h, timeout=10)
    assert r.status_code == 400 and "replicas" not in r.text, r.text
    assert httpx.get(stack.gateway_url + "/v2/models/model", headers=h, timeout=10).status_code == 200   # twin


def test_a_bad_startup_flag_is_exit_2(tmp_path):
    """On main `--rate-limit 0/s` started a server that answered 500 to every request."""
    proc = subprocess.run([sys.executable, "-m", "mlqa.cli", "serve", str(tmp_path / "model.joblib"),
                           "--insecure-no-auth", "--rate-limit", "0/s"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--rate-limit" in proc.stderr, proc.stderr


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(path=st.sampled_from(["/zones/zone-a/network", "/zones/zone-b/network", "/zones/zone-z/network",
                             "/nodes/zone-a-node-1/gpus/0/fault", "/nodes/zone-b-node-1/gpus/7/fault",
                             "/nodes/zone-a-node-1/gpus/-1/heal", "/training/start", "/state", "/nodes/x/kill"]),
       body=st.sampled_from([b"", b"{}", b"[]", b"null", b"NaN", b'{"latency_ms": NaN}', b'{"drop": -0.1}',
                             b'{"xid": 1e400}', b'{"xid": "79"}', b'{"steps": -5}', b'{"steps": 0.5}',
                             b'{"lr": Infinity}', b'{"nodes": 99999}', b"{\"x\": 1}", b"[" * 5000, b"\xff"]))
def test_fuzz_the_real_admin_api_and_gateway(stack, path, body):
    """Bodies that are all refused (or harmless), so the stack stays whole between examples."""
    assume(not (path == "/training/start" and body in (b"", b"{}")))      # that would start a real job
    method = "PUT" if path.endswith("/network") else "GET" if path == "/state" else "POST"
    try:
        r = admin(stack, method, path, body)
    except httpx.HTTPError as exc:
        pytest.fail(f"{method} {path} {body[:40]!r}: no answer ({type(exc).__name__})")
    assert r.status_code < 500, (path, body[:40], r.text[:200])
    assert r.status_code != 200 or body in (b"", b"{}"), (path, body, r.text)
    if r.status_code == 200 and "/gpus/" in path and path.endswith("/fault"):
        admin(stack, "POST", path.replace("/fault", "/heal"))
    if r.status_code == 200 and path.endswith("/network"):
        admin(stack, "PUT", path, b"{}")
    try:
        g = httpx.put(stack.gateway_url + "/admin/zones/zone-b/network", content=body, timeout=10,
                      headers=gateway_admin(stack))
    except httpx.HTTPError as exc:
        pytest.fail(f"gateway admin {body[:40]!r}: no answer ({type(exc).__name__})")
    assert g.status_code < 500, (body[:40], g.text[:200])
