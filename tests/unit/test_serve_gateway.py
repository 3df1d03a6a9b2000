"""The stack's gateway under misuse, in process on 127.0.0.1 in front of one real `mlqa serve`
app: paths normalised before routing (no `/v2/models/%2e%2e` reaching a replica's `/v2`),
network-fault parameters checked (no NaN latency), the rate limit per principal, failed
authentication throttled, and its settings range-checked."""
import json
import math
import time

import httpx
import pytest
from asgi_servers import SCHEMA, Threshold, oip_body, raw_request, running
from hypothesis import given
from hypothesis import strategies as st

from mlqa.serve import ServeConfig, build_app
from mlqa.stack._gateway import PathError, build_gateway, normalise_path, settings_errors
from mlqa.subjects import Model

USER, INTERNAL, ADMIN = "gw-user-1a2b", "gw-internal-3c4d", "gw-admin-5e6f"
SETTINGS = {"health_interval_s": 0.1, "unhealthy_after": 2, "try_timeout_s": 5.0, "retries": 1,
            "rate_limit": "100000/s"}


@pytest.fixture(scope="module")
def replica():
    app = build_app(Model(Threshold()), SCHEMA, ServeConfig(token=INTERNAL, unlimited_token=INTERNAL))
    with running(app) as url:
        yield url


def gateway(replica_url, auth_failure_limit="30/min", **settings):
    import os
    os.environ.update(GW_USER=USER, GW_INTERNAL=INTERNAL, GW_ADMIN=ADMIN)
    config = {"port": 0, "auth_failure_limit": auth_failure_limit, "token_env": "GW_USER", "internal_token_env": "GW_INTERNAL", "admin_token_env": "GW_ADMIN",
              "settings": {**SETTINGS, **settings},
              "upstreams": [{"node": "zone-a-node-1", "zone": "zone-a", "url": replica_url}]}
    return build_gateway(config)


def wait_ready(url):
    for _ in range(300):
        if httpx.get(url + "/v2/health/ready", timeout=5).status_code == 200:
            return
        time.sleep(0.05)
    pytest.fail("the gateway never saw its replica healthy")


@pytest.fixture(scope="module")
def gw(replica):
    with running(gateway(replica)) as url:
        wait_ready(url)
        yield url


def auth(token=USER):
    return [(b"authorization", f"Bearer {token}".encode())]


# -- paths ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", [b"/v2/models/%2e%2e", b"/v2/models/%2E%2e/", b"/v2/models/..",
                                    b"/v2/models/model/%2e%2e/%2e%2e", b"/v2/models/model%2Finfer",
                                    b"/v2/models/%2e", b"/v2/models/a%00b", b"/v2/models/%5c..%5c"])
def test_traversal_is_refused_before_routing(gw, target):
    """On main `/v2/models/%2e%2e` reached the replica's `/v2` (its server metadata)."""
    status, body = raw_request(gw, "GET", target, auth())
    assert status == 400, (status, body[:200])
    assert b"bad request path" in body


@pytest.mark.parametrize("target, status", [(b"/v2/models/model", 200), (b"/v2//models///model", 200),
                                            (b"/v2/models/%6dodel", 200), (b"/v2/models/other", 404),
                                            (b"/v2", 404)])
def test_sound_paths_are_routed_after_normalising_twin(gw, target, status):
    got, body = raw_request(gw, "GET", target, auth())
    assert got == status, (got, body[:200])


@given(st.lists(st.sampled_from(["v2", "models", "model", ".", "..", "%2e", "%2E%2e", "%2f", "", "a%20b", "%zz",
                                 "%c3%28", "ready", "infer"]), max_size=6))
def test_a_normalised_path_has_no_dot_segment_or_empty_segment(segments):
    raw = "/" + "/".join(segments)
    try:
        path = normalise_path(raw)
    except (PathError, UnicodeDecodeError):
        return
    parts = path.split("/")[1:]
    assert path.startswith("/") and "." not in parts and ".." not in parts
    assert path == "/" or all(parts)


# -- the admin route's parameters ---------------------------------------------------------------------

@pytest.mark.parametrize("body", [b'{"latency_ms": NaN}', b'{"latency_ms": Infinity}', b'{"latency_ms": 1e400}',
                                  b'{"latency_ms": -1}', b'{"latency_ms": "5"}', b'{"latency_ms": true}',
                                  b'{"drop": 1.5}', b'{"drop": NaN}', b"[]", b'[{"drop": 1}]', b'"x"', b"{",
                                  b'{"latency": 5}', b'{"latency_ms": 99999999}', b"\xff"])
def test_a_network_fault_out_of_range_is_400_and_nothing_changes(gw, body):
    """On main a NaN latency was taken: then every inference to the zone and /admin/state
    answered 500."""
    status, answer = raw_request(gw, "PUT", b"/admin/zones/zone-a/network",
                                 auth(ADMIN) + [(b"content-type", b"application/json")], body)
    assert status == 400, (status, answer[:200])
    assert json.loads(answer)["error"]
    state = httpx.get(gw + "/admin/state", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert state.status_code == 200 and state.json()["faults"]["zone-a"] == {"latency_s": 0.0, "drop": 0.0}
    assert httpx.post(gw + "/v2/models/model/infer", json=oip_body(), timeout=10,
                      headers={"Authorization": f"Bearer {USER}"}).status_code == 200


def test_a_sound_network_fault_is_applied_and_healed_twin(gw):
    h = {"Authorization": f"Bearer {ADMIN}"}
    r = httpx.put(gw + "/admin/zones/zone-a/network", json={"latency_ms": 5, "drop": 0}, headers=h, timeout=10)
    assert r.status_code == 200 and r.json()["latency_s"] == 0.005
    assert httpx.put(gw + "/admin/zones/zone-x/network", json={}, headers=h, timeout=10).status_code == 404
    assert httpx.put(gw + "/admin/zones/zone-a/network", json={}, headers=h, timeout=10).json()["latency_s"] == 0


# -- rate limit per principal, failed authentication throttled --------------------------------------

def test_the_gateway_limits_the_principal_and_throttles_failed_authentication(replica):
    """On main each spelling of the header was a fresh bucket, and failures were never
    throttled."""
    with running(gateway(replica, rate_limit="1/s", auth_failure_limit="10/h")) as url:
        wait_ready(url)
        spellings = [f"{'bEaReR' if i % 2 else 'Bearer'}{' ' * (1 + i)}{USER}" for i in range(20)]
        started = time.monotonic()
        codes = [httpx.get(url + "/v2/models/model", headers={"Authorization": h}, timeout=10).status_code
                 for h in spellings]
        elapsed = time.monotonic() - started
        assert set(codes) <= {200, 429} and codes.count(200) <= 2 + math.floor(elapsed), codes
        failed = [httpx.get(url + "/v2/models/model", headers={"Authorization": f"Bearer no-{i}"},
                            timeout=10).status_code for i in range(14)]
        assert failed == [401] * 10 + [429] * 4, failed


# -- settings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings", [{"rate_limit": "0/s"}, {"rate_limit": "fast"}, {"health_interval_s": 0},
                                      {"health_interval_s": math.nan}, {"try_timeout_s": math.inf},
                                      {"unhealthy_after": 0}, {"retries": -1}, {"retries": 2.5},
                                      {"retries": True}])
def test_gateway_settings_out_of_range_are_named(settings):
    problems = settings_errors({**SETTINGS, **settings})
    assert [k for k, _ in problems] == list(settings), problems


def test_sound_gateway_settings_pass_twin():
    assert settings_errors(SETTINGS) == [] and settings_errors({"rate_limit": "30/min", "retries": 0}) == []


def test_the_gateway_refuses_to_start_on_bad_settings(tmp_path, monkeypatch, capsys):
    from mlqa.stack import _gateway
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps({"port": 1, "settings": {**SETTINGS, "rate_limit": "0/s"}}))
    monkeypatch.setattr("sys.argv", ["gateway", str(path)])
    assert _gateway.main() == 2
    assert "rate_limit" in capsys.readouterr().err


def test_a_topology_with_bad_gateway_settings_names_the_line():
    from mlqa.errors import ConfigError
    from mlqa.stack._topology import parse_topology
    from mlqa.yamldoc import load_yaml
    with pytest.raises(ConfigError, match=r"topo.yaml:3: .*rate_limit"):
        parse_topology(load_yaml("zones: [a]\ngateway:\n  rate_limit: 0/s\n", "topo.yaml"))
