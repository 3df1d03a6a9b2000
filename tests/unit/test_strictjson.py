"""mlqa.strictjson: the one strict parser of untrusted request bodies (serve and the admin
APIs used to carry a copy each, and the copies had already drifted: only one refused lone
surrogates)."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa.strictjson import StrictJSONError, loads


@pytest.mark.parametrize("body, status", [
    (b"\xff\xfe", 400), (b"{", 400), (b"[" * 100_000 + b"]" * 100_000, 400), (b'"\\ud800"', 400),
    (b"NaN", 422), (b"[Infinity]", 422), (b"-Infinity", 422), (b"1e400", 422), (b"9" * 401, 422)])
def test_refused_with_the_status_a_server_answers(body, status):
    with pytest.raises(StrictJSONError) as info:
        loads(body)
    assert info.value.status == status and info.value.message


def test_the_integer_bound_is_the_callers():
    assert loads(b"9" * 30, max_int_digits=30) == int("9" * 30)
    with pytest.raises(StrictJSONError):
        loads(b"9" * 31, max_int_digits=30)


@pytest.mark.parametrize("body", [b'"\\ud83d\\ude00"', b'{"a": [1, -0, 1.5e-300, "\\\\ud800"]}', b"null"])
def test_sound_json_reads_as_json_does(body):
    assert loads(body) == json.loads(body)


@given(st.recursive(st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.text()
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
                    max_leaves=12))
def test_any_json_value_round_trips_or_is_refused_as_the_clients_fault(value):
    body = json.dumps(value).encode("utf-8", "surrogatepass")
    try:
        assert loads(body) == json.loads(body)
    except StrictJSONError as exc:
        assert exc.status in (400, 422)


def test_serve_and_the_admin_api_share_it():
    from mlqa.serve import RequestError, parse_json
    from mlqa.stack._fault_params import ParamError, json_object
    with pytest.raises(RequestError) as served:
        parse_json(b'"\\udc00"')
    with pytest.raises(ParamError) as admin:
        json_object(b'{"a": "\\udc00"}')
    assert served.value.status == admin.value.status == 400
    assert "surrogate" in served.value.message and "surrogate" in admin.value.message
