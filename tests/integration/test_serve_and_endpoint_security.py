"""`mlqa serve` and the endpoint security checks against real servers on 127.0.0.1."""
import subprocess
import sys

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from mlqa.suites import security as S

from servers import free_port, mlqa_serve, processes_mentioning, running

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

TOKEN = "test-token-9f8e7d"


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """A joblib-saved scikit-learn pipeline and its training data (x numeric, group categorical)."""
    folder = tmp_path_factory.mktemp("served")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.random(300), "group": rng.choice(["a", "b"], 300)})
    frame["label"] = (frame.x > 0.5).astype(int)
    pipe = make_pipeline(ColumnTransformer([("g", OneHotEncoder(handle_unknown="ignore"), ["group"])],
                                           remainder="passthrough"), LogisticRegression())
    pipe.fit(frame[["x", "group"]], frame.label)
    joblib.dump(pipe, folder / "model.joblib")
    frame.to_csv(folder / "train.csv", index=False)
    return folder


def serve(folder, port, *extra):
    return running(mlqa_serve(folder / "model.joblib", "--data", str(folder / "train.csv"), "--label", "label",
                              "--port", str(port), *extra), port=port, env={"SERVE_TOKEN": TOKEN})


@pytest.fixture(scope="module")
def secured(served_model):
    port = free_port()
    with serve(served_model, port, "--token-env", "SERVE_TOKEN", "--rate-limit", "20/s") as url:
        yield url


@pytest.fixture(scope="module")
def open_server(served_model):
    port = free_port()
    with serve(served_model, port, "--insecure-no-auth", "--rate-limit", "100000/s") as url:
        yield url


BROKEN = '''
import json, traceback
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

async def infer(request):
    if request.headers.get("authorization") != "Bearer %s":
        return JSONResponse({"error": "unauthorised"}, status_code=401)
    try:
        payload = json.loads(await request.body())
    except Exception:  # the planted defect: bad JSON is a 500 with the traceback
        return PlainTextResponse(traceback.format_exc(), status_code=500)
    if request.headers.get("content-type") != "application/json" or not valid(payload):
        return JSONResponse({"error": "bad request"}, status_code=422)
    return JSONResponse({"outputs": []})

def valid(payload):
    try:
        inputs = {t["name"]: t for t in payload["inputs"]}
        x, g = inputs.pop("x"), inputs.pop("group")
        return (not inputs and all(type(v) in (int, float) for v in x["data"])
                and all(type(v) is str for v in g["data"]) and x["shape"] == [len(x["data"])]
                and g["shape"] == [len(g["data"])] and len(x["data"]) == len(g["data"]) > 0)
    except Exception:
        return False

async def ready(request):
    return JSONResponse({"ready": True})

app = Starlette(routes=[Route("/v2/models/model/infer", infer, methods=["POST"]),
                        Route("/v2/health/ready", ready)])
''' % TOKEN


@pytest.fixture(scope="module")
def broken_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken")
    (folder / "broken_app.py").write_text(BROKEN)
    port = free_port()
    with running([sys.executable, "-m", "uvicorn", "broken_app:app", "--port", str(port), "--log-level", "warning"],
                 port=port, cwd=folder) as url:
        yield url


def ctx_for(make_ctx, folder, url, token_env="SERVE_TOKEN"):
    frame = pd.read_csv(folder / "train.csv")
    ctx = make_ctx(frame, frame.head(50), label="label", positive=1)
    ctx.endpoint = {"url": url, "protocol": "oip-v2", "model": "model",
                    "auth": {"header": "Authorization", "token_env": token_env}, "timeout": 5}
    return ctx


@pytest.fixture(autouse=True)
def token_env(monkeypatch):
    monkeypatch.setenv("SERVE_TOKEN", TOKEN)


def test_serve_speaks_open_inference_protocol(secured):
    h = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(secured + "/v2/health/live").json() == {"live": True}
    assert httpx.get(secured + "/v2/models/model").status_code == 401
    meta = httpx.get(secured + "/v2/models/model", headers=h).json()
    assert [i["name"] for i in meta["inputs"]] == ["x", "group"]
    body = {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [0.9, 0.1]},
                       {"name": "group", "shape": [2], "datatype": "BYTES", "data": ["a", "zz"]}]}
    out = httpx.post(secured + "/v2/models/model/infer", json=body, headers=h).json()
    assert out["outputs"][0]["data"] == [1, 0] and out["outputs"][1]["shape"] == [2, 2]
    bad = httpx.post(secured + "/predict", json={"instances": [{"x": "high", "group": "a"}]}, headers=h)
    assert bad.status_code == 422 and "must be a number" in bad.json()["error"]
    assert 'mlqa_requests_total{route="infer",status="200"}' in httpx.get(secured + "/metrics").text


def test_serve_refuses_to_start_without_auth(served_model):
    proc = subprocess.run(mlqa_serve(served_model / "model.joblib", "--data", str(served_model / "train.csv"),
                                     "--port", str(free_port())), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "refusing to serve without auth" in proc.stderr


def test_auth_passes_on_the_secured_server(make_ctx, served_model, secured):
    r = S.endpoint_auth(ctx_for(make_ctx, served_model, secured))
    assert r.status == "passed", r.message
    assert {row["status"] for row in r.evidence["requests"] if "note" not in row} == {401}


def test_a_server_without_auth_fails(make_ctx, served_model, open_server):
    r = S.endpoint_auth(ctx_for(make_ctx, served_model, open_server, token_env=None))
    assert r.status == "failed" and r.metrics["unprotected"] == 9
    assert {"route": "POST /v2/models/model/infer", "credential": "none", "status": 200,
            "rejected": False} in r.evidence["requests"]


def test_malformed_input_gets_clean_4xx_from_mlqa_serve(make_ctx, served_model, secured):
    r = S.endpoint_input(ctx_for(make_ctx, served_model, secured), max_examples=60)
    assert r.status == "passed", r.evidence.get("counterexample")
    assert r.evidence["requests_sent"] >= 60


def test_a_server_that_500s_on_bad_json_fails(make_ctx, served_model, broken_server):
    ctx = ctx_for(make_ctx, served_model, broken_server)
    r = S.endpoint_input(ctx, max_examples=60)
    assert r.status == "failed" and r.evidence["counterexample"]["problem"] == "answered 500"
    assert r.evidence["counterexample"]["body_bytes"] < 40  # shrunk to a minimal bad body


def test_rate_limit_holds_and_the_service_recovers(make_ctx, served_model, secured):
    r = S.endpoint_rate_limit(ctx_for(make_ctx, served_model, secured), rate=20)
    assert r.status == "passed", r.message
    assert r.metrics["rejected_429"] >= 1 and r.evidence["status_after"] == 200


def test_no_rate_limit_fails(make_ctx, served_model, open_server):
    r = S.endpoint_rate_limit(ctx_for(make_ctx, served_model, open_server, token_env=None), rate=20)
    assert r.status == "failed" and r.metrics["rejected_429"] == 0


def test_missing_token_variable_is_an_error(make_ctx, served_model, secured, monkeypatch):
    monkeypatch.delenv("SERVE_TOKEN")
    r = S.endpoint_auth(ctx_for(make_ctx, served_model, secured))
    assert r.status == "error" and "SERVE_TOKEN" in r.message


@pytest.mark.parametrize("fail_inside", [False, True])
def test_no_server_is_left_behind_even_when_the_test_fails(served_model, fail_inside):
    port = free_port()
    with pytest.raises(RuntimeError) if fail_inside else _nothing():
        with serve(served_model, port, "--insecure-no-auth"):
            assert processes_mentioning(f"--port {port}")
            if fail_inside:
                raise RuntimeError("the test failed here")
    assert processes_mentioning(f"--port {port}") == []


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
