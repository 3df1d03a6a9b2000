import time

import numpy as np

from mlqa.suites.latency import inference


class Fast:
    classes_ = np.array(["<=50K", ">50K"])

    def predict_proba(self, X):
        return np.tile([0.7, 0.3], (len(X), 1))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), int)]


class Slow(Fast):
    def predict_proba(self, X):
        time.sleep(0.02)
        return super().predict_proba(X)


def test_fast_model_meets_a_latency_budget(make_ctx, adult_test):
    r = inference(make_ctx(None, adult_test, model=Fast()), max_p95_ms=10.0, repeats=20)
    assert r.status == "passed" and [b["batch_size"] for b in r.evidence["batches"]] == [1, 32, 256]
    assert r.metrics["rows_per_s"] > 1000 and r.metrics["peak_memory_mb"] >= 0


def test_slow_model_misses_it(make_ctx, adult_test):
    r = inference(make_ctx(None, adult_test, model=Slow()), max_p95_ms=10.0, repeats=5, batch_sizes=[1])
    assert r.status == "failed" and r.metrics["p95_ms"] >= 20


def test_nothing_judged_by_default(make_ctx, adult_test, credit_models):
    r = inference(make_ctx(None, adult_test, model=credit_models[0]), repeats=5)
    assert r.status == "passed" and r.thresholds == {}
