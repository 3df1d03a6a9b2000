"""The prediction contract (mlqa._contract) and the wire a worker replies on
(mlqa._worker_wire): pure functions, planted defects with their clean twins."""
from __future__ import annotations

import json
import struct

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa._contract import ContractError, Expectation, agreement_breach, predict_breach, proba_breach
from mlqa._worker_wire import WireError, encode_array, parse_reply, reply_frame
from mlqa.subjects import Model

CLASSIFY = Expectation(task="classification", labels=(0, 1))
P = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])


def test_clean_answers_keep_the_contract():
    assert predict_breach(np.array([0, 1, 0]), 3, CLASSIFY) is None
    assert proba_breach(P, 3, [0, 1], CLASSIFY) is None
    assert agreement_breach(np.array([0, 1, 0]), P, [0, 1]) is None


@pytest.mark.parametrize("pred, says", [
    (np.array([0, 1]), "2 values for 3 rows"),
    (np.array([[0, 1], [1, 0], [0, 0]]), "shape"),
    (np.array([0, 2, 1]), "labels 2"),
    (np.array(["0", "1", "0"]), "labels '0', '1'"),
    (np.array([0.0, np.nan, 1.0]), "labels nan"),
])
def test_predict_breaches(pred, says):
    assert says in predict_breach(pred, 3, CLASSIFY)


def test_regression_predictions_must_be_finite_numbers():
    reg = Expectation(task="regression")
    assert predict_breach(np.array([1.5, 2.0]), 2, reg) is None
    assert "NaN/inf" in predict_breach(np.array([1.5, np.inf]), 2, reg)
    assert "a regressor predicts numbers" in predict_breach(np.array(["a", "b"]), 2, reg)


@pytest.mark.parametrize("proba, says", [
    (P[:2], "2 rows for 3 input rows"),
    (P[:, 1], "shape (3,)"),
    (np.c_[P, np.zeros(3)], "3 columns for 2 classes"),
    (np.where(P > 0.85, np.nan, P), "NaN/inf in 1 rows"),
    (P * 1.2, "outside [0, 1]"),
    (P - 0.15, "outside [0, 1]"),
    (np.c_[P[:, 0], P[:, 1] / 2], "do not sum to 1"),
])
def test_proba_breaches(proba, says):
    assert says in proba_breach(proba, 3, [0, 1], CLASSIFY)


def test_binary_agreement_allows_any_threshold_but_not_an_inverted_one():
    scores = np.array([[0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.1, 0.9]])
    assert agreement_breach(np.array([0, 1, 1, 1]), scores, [0, 1]) is None  # threshold 0.3
    msg = agreement_breach(np.array([1, 0, 0, 0]), scores, [0, 1])
    assert "row 3 is predicted 0 with P(1) = 0.9, while row 0 is predicted 1" in msg


def test_multiclass_agreement_is_the_argmax_up_to_ties():
    proba = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8], [0.4, 0.4, 0.2]])
    assert agreement_breach(np.array(["a", "c", "b"]), proba, ["a", "b", "c"]) is None  # row 2 ties
    assert "row 1 is predicted 'b'" in agreement_breach(np.array(["a", "b", "a"]), proba, ["a", "b", "c"])


class _Clf:
    classes_ = np.array([0, 1])

    def __init__(self, flip: bool = False) -> None:
        self.flip = flip

    def predict_proba(self, X):
        p = np.clip(np.asarray(X["x"], dtype=float), 0, 1)
        return np.c_[1 - p, p]

    def predict(self, X):
        pred = (np.asarray(X["x"]) > 0.5).astype(int)
        return 1 - pred if self.flip else pred


def test_an_in_process_model_is_held_to_the_contract_once_bound():
    X = pd.DataFrame({"x": np.linspace(0, 1, 20)})
    clean, flipped = Model(_Clf()), Model(_Clf(flip=True))
    for model in (clean, flipped):
        model.expect(Expectation(task="classification", labels=(0, 1), sample=X))
    assert clean.predict(X).sum() == 10
    with pytest.raises(ContractError, match="disagree"):
        flipped.predict_proba(X)
    assert Model(_Clf(flip=True)).predict(X).sum() == 10  # unbound (a hand-made context): no data to check against


# ------------------------------------------------------------------ the wire
@pytest.mark.parametrize("value", [np.arange(5), np.array([0.5, 1.5]), np.array(["a", "bc"]),
                                   np.array([True, False]), np.zeros((3, 2)), np.array([], dtype=float),
                                   np.array(["x", "y"], dtype=object), [1, 2.5]])
def test_arrays_travel_intact(value):
    spec, data = encode_array(value)
    frame = reply_frame({"ok": True, "arrays": [spec]}, data)
    header, arrays = parse_reply(frame[8:])
    assert header["ok"] and np.array_equal(arrays[0], np.asarray(value).astype(arrays[0].dtype))


@pytest.mark.parametrize("value", [np.array([{"a": 1}], dtype=object), np.zeros((2, 2, 2)),
                                   np.zeros(2, dtype=[("a", "f8")]), np.array([1 + 2j])])
def test_what_cannot_travel_is_refused_at_the_worker(value):
    with pytest.raises(TypeError):
        encode_array(value)


def _frame(header: dict, payload: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return struct.pack(">I", len(head)) + head + payload


@pytest.mark.parametrize("body", [
    b"", b"\x00\x00\x00\x10{}", _frame([]),  # type: ignore[arg-type]
    _frame({"arrays": [{"dtype": "|O", "shape": [1], "nbytes": 8}]}, b"\x00" * 8),
    _frame({"arrays": [{"dtype": "<f8", "shape": [2], "nbytes": 16}]}, b"\x00" * 8),
    _frame({"arrays": [{"dtype": "<f8", "shape": [1], "nbytes": 8}]}, b"\x00" * 16),
    _frame({"arrays": [{"dtype": "[('a', '<f8')]", "shape": [1], "nbytes": 8}]}, b"\x00" * 8),
    _frame({"arrays": [{"dtype": "<f8", "shape": [1, 1, 1], "nbytes": 8}]}, b"\x00" * 8),
    _frame({"arrays": "x"}),
])
def test_a_hostile_reply_is_a_wire_error(body):
    with pytest.raises(WireError):
        parse_reply(body)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.builds(lambda h, p: _frame(h, p),
                                           st.dictionaries(st.sampled_from(["ok", "arrays", "x"]),
                                                           st.lists(st.dictionaries(
                                                               st.sampled_from(["dtype", "shape", "nbytes"]),
                                                               st.one_of(st.text(max_size=8), st.integers(-4, 64),
                                                                         st.lists(st.integers(-2, 9), max_size=3)))),
                                                           max_size=3),
                                           st.binary(max_size=64)))
def test_any_reply_parses_or_is_a_wire_error(body):
    try:
        header, arrays = parse_reply(body)
    except WireError:
        return
    assert isinstance(header, dict) and all(a.dtype.kind in "biufUS" for a in arrays)
