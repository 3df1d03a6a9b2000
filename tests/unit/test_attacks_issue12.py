"""Issue 12's hardening attacked the way a hostile client or a careless user would: each
test fails on the commits that closed the issue and passes after, each with a clean twin.

- a lone UTF-16 surrogate escape (`"\\ud800"`) in a request is a 400, not a 500 (the server
  echoed it into an error it could not encode, or pandas refused it before the model ran);
- the gateway forwards a Content-Type holding a byte 0x80-0xff instead of a 500;
- a request of more rows (or more unknown keys) than the model takes costs no work per key
  per column (300 columns, 1 MB: 3 s of the event loop, for every request);
- a CSV whose header starts with `id`, `class` or `income` is "not a model file" (exit 2),
  not a pickle handed to the scanner (a block, exit 1);
- a supervisor.json whose pid is `true`, 0 or negative names no process."""
from __future__ import annotations

import json
import pickle
from typing import ClassVar

import pytest
from asgi_servers import SCHEMA, TOKEN, Threshold, oip_body, raw_request, running
from hypothesis import given, settings
from hypothesis import strategies as st

# the gateway in front of one replica, as the gateway's own tests run it
from test_serve_gateway import USER, gw, replica  # noqa: F401  (pytest fixtures)

from mlqa.serve import RequestError, Schema, ServeConfig, build_app
from mlqa.serve._schema import InputColumn, parse_json, rows_from_json, rows_from_oip
from mlqa.subjects import Model


# ------------------------------------------------------------------ lone surrogates
@pytest.fixture(scope="module")
def served():
    with running(build_app(Model(Threshold()), SCHEMA, ServeConfig(token=TOKEN))) as url:
        yield url


def _post(url: str, path: str, body: bytes) -> tuple[int, bytes]:
    return raw_request(url, "POST", path.encode(), [(b"authorization", f"Bearer {TOKEN}".encode()),
                                                     (b"content-type", b"application/json")], body)


@pytest.mark.parametrize("path, body", [
    ("/v2/models/model/infer", b'{"inputs": [{"name": "\\ud800", "shape": [1], "datatype": "FP64"}]}'),
    ("/predict", b'{"instances": [{"x": 1, "group": "\\udc00", "note": "n"}]}'),
    ("/predict", b'{"instances": [{"x": 1, "group": "a", "note": "\\ud83d"}]}'),
    ("/v2/models/model/infer", json.dumps(oip_body(group=("\ud800", "b"))).encode()),
])
def test_a_lone_surrogate_in_a_request_is_a_400_not_a_500(served, path, body):
    """On main: 500 "internal error" (the error message echoing the name could not be
    encoded as UTF-8; pandas refused the categorical value outside the model's try)."""
    status, answer = _post(served, path, body)
    assert status == 400, (status, answer[:200])
    assert b"surrogate" in answer


@pytest.mark.parametrize("path, body", [
    ("/predict", b'{"instances": [{"x": 1, "group": "\\ud83d\\ude00", "note": "\\\\ud800 is text"}]}'),
    ("/v2/models/model/infer", json.dumps(oip_body(group=("\U0001F600", "b"))).encode()),
])
def test_surrogate_pairs_and_escaped_backslashes_are_served_twin(served, path, body):
    status, answer = _post(served, path, body)
    assert status == 200, (status, answer[:200])


#: letters, digits, punctuation, emoji and lone surrogates (`Cs`)
_text = st.text(st.characters(categories=["Cs", "Ll", "Lu", "Nd", "Po", "So"]), max_size=6)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_whatever_parse_json_returns_can_be_answered_in_utf8(value):
    """Any JSON a client may send (lone surrogates included, as `\\uXXXX` escapes): a 4xx,
    or a value every string of which encodes as UTF-8 (an answer may echo it)."""
    text = json.dumps(value)
    try:
        parsed = parse_json(text.encode())
    except RequestError as exc:
        assert exc.status == 400 and "surrogate" in exc.message
        return
    assert parsed == json.loads(text)      # (two escapes that make a pair are one character)
    json.dumps(parsed, ensure_ascii=False).encode("utf-8")


# ------------------------------------------------------------------ the gateway's Content-Type
def test_the_gateway_forwards_a_content_type_with_high_bytes_instead_of_a_500(gw):  # noqa: F811
    """On main httpx refused to encode the header as a str: 500 "internal error". The
    replica judges it now (415: not application/json)."""
    status, body = raw_request(gw, "POST", b"/v2/models/model/infer",
                               [(b"authorization", f"Bearer {USER}".encode()),
                                (b"content-type", b"application/json\xe9")], json.dumps(oip_body()).encode())
    assert status == 415, (status, body[:200])


def test_the_gateway_forwards_a_sound_content_type_twin(gw):  # noqa: F811
    status, body = raw_request(gw, "POST", b"/v2/models/model/infer",
                               [(b"authorization", f"Bearer {USER}".encode()),
                                (b"content-type", b"application/json; charset=utf-8")],
                               json.dumps(oip_body()).encode())
    assert status == 200, (status, body[:200])


# ------------------------------------------------------------------ work per request
class _Counting(Schema):
    """A schema counting how often its column names are asked for (each ask builds them)."""

    asked: ClassVar[list[int]] = [0]

    @property
    def names(self) -> list[str]:
        _Counting.asked[0] += 1
        return super().names


WIDE = _Counting(tuple(InputColumn(f"c{i}", "numeric") for i in range(50)), max_rows=100)


@pytest.mark.parametrize("payload, status", [
    ({"instances": [{}] * 5000}, 413),                                   # more rows than the limit
    ({"instances": [{f"k{i}": 1 for i in range(2000)}]}, 422),           # unknown keys
    ({"inputs": [{"name": f"k{i}", "shape": [1], "datatype": "FP64", "data": [1]} for i in range(2000)]}, 422),
])
def test_a_request_costs_no_work_per_key_per_column(payload, status):
    """On main the column names were built again for every key of every row (and every row
    was spread over every column before the row limit was looked at): 300 columns and a
    1 MB body held the event loop for seconds."""
    _Counting.asked[0] = 0
    with pytest.raises(RequestError) as err:
        (rows_from_oip if "inputs" in payload else rows_from_json)(payload, WIDE)
    assert err.value.status == status, err.value.message
    assert _Counting.asked[0] <= 6, f"the schema's names were built {_Counting.asked[0]} times"


def test_a_sound_wide_request_is_read_twin():
    rows = [{f"c{i}": float(i + j) for i in range(50)} for j in range(100)]
    columns = rows_from_json({"instances": rows}, WIDE)
    assert columns["c3"][:2] == [3.0, 4.0] and len(columns) == 50
    oip = {"inputs": [{"name": f"c{i}", "shape": [2], "datatype": "FP64", "data": [i, 1]} for i in range(50)]}
    assert rows_from_oip(oip, WIDE)["c7"] == [7.0, 1.0]


# ------------------------------------------------------------------ text that starts like a pickle
TEXT_LIKE_PICKLE = {"id first": b"id,age,income,label\n1,25,300,0\n2,30,400,1\n",
                    "class first": b"class,age\n1,25\n0,30\n",
                    "income first": b"income,age,label\n1,25,0\n0,30,1\n",
                    "a python script": b"import joblib\nmodel = joblib.load('m.pkl')\n",
                    "one column": b"id\n1\n2\n"}


@pytest.mark.parametrize("kind", sorted(TEXT_LIKE_PICKLE))
def test_text_starting_with_c_or_i_is_not_a_model_file(tmp_path, kind):
    """On main `c` (GLOBAL) and `i` (INST) made any text look like a protocol-0 pickle that
    imports something: handed to the scanner, refused there, a block (exit 1)."""
    from mlqa._model_loading import load_model_file
    from mlqa._model_sniff import not_a_model
    from mlqa.errors import SubjectError
    path = tmp_path / "model.pkl"
    path.write_bytes(TEXT_LIKE_PICKLE[kind])
    why = not_a_model(path)
    assert why is not None and why.startswith("it starts with text")
    with pytest.raises(SubjectError, match="is not a model file"):
        load_model_file(path)


def test_a_csv_with_an_id_column_as_model_path_is_exit_2(tmp_path, write_config, capsys):
    from mlqa.cli import main
    (tmp_path / "train.csv").write_text("age,label\n" + "".join(f"{i},{i % 2}\n" for i in range(40)))
    (tmp_path / "model.pkl").write_bytes(TEXT_LIKE_PICKLE["id first"])
    path = write_config("version: 1\ndata: {train: train.csv, test: train.csv, label: label}\n"
                        "model: {path: model.pkl}\nchecks: [performance.calibration]\n"
                        "gates:\n  production: {blocking: ['*']}\n")
    assert main(["gate", str(path), "--stage", "production", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.count("is not a model file") == 1


class _Payload:
    def __reduce__(self):
        import os
        return os.system, ("true",)


@pytest.mark.parametrize("protocol", [0, 1])
def test_old_protocol_pickles_still_go_to_the_scanner_twin(tmp_path, protocol):
    """A protocol 0/1 pickle imports dotted names: still the scanner's to judge (a model
    is loaded, a malicious one blocked) — never waved off as text."""
    from sklearn.linear_model import LogisticRegression

    from mlqa._model_sniff import not_a_model
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    for name, obj in (("model.pkl", model), ("evil.pkl", _Payload())):
        (tmp_path / name).write_bytes(pickle.dumps(obj, protocol=protocol))
        assert not_a_model(tmp_path / name) is None, name


# ------------------------------------------------------------------ a hostile supervisor.json
@pytest.mark.parametrize("record", [{"pid": True, "started": 1.0}, {"pid": 0}, {"pid": -5},
                                    {"pid": 1 << 80}, {"pid": "12"}, {"pid": 12.5}])
def test_a_supervisor_record_without_a_real_pid_names_no_process(tmp_path, record):
    """On main `{"pid": true}` was pid 1 to Python (init's entry looked up; `status` said
    "pid True"), 0 and -5 were kept as pids."""
    from mlqa.stack._lifecycle import _recorded_supervisor
    (tmp_path / "supervisor.json").write_text(json.dumps(record))
    assert _recorded_supervisor(tmp_path)[0] is None


def test_a_bool_pid_falls_back_to_the_pid_file(tmp_path):
    from mlqa.stack._lifecycle import _recorded_supervisor
    (tmp_path / "supervisor.json").write_text(json.dumps({"pid": True, "started": float("nan")}))
    (tmp_path / "supervisor.pid").write_text("4321\n")
    assert _recorded_supervisor(tmp_path) == (4321, None)


def test_a_sound_supervisor_record_is_read_twin(tmp_path):
    from mlqa.stack._lifecycle import _recorded_supervisor
    (tmp_path / "supervisor.json").write_text(json.dumps({"pid": 4321, "started": 1.5}))
    assert _recorded_supervisor(tmp_path) == (4321, 1.5)
    (tmp_path / "supervisor.json").write_text("{}")
    (tmp_path / "supervisor.pid").write_text("4322\n")      # `up` killed before it wrote the record
    assert _recorded_supervisor(tmp_path) == (4322, None)
