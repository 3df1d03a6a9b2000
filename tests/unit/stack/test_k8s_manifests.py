"""chaos/k8s validated offline: every object against the Kubernetes schema (strict), and the
resilience properties the local stack is tested for. Each planted defect has the real
manifests as its clean twin."""
import copy
from pathlib import Path

import pytest

from mlqa.stack._k8s import load_manifests, resilience_problems, schema_errors

K8S = Path(__file__).resolve().parents[3] / "chaos" / "k8s"


@pytest.fixture(scope="module")
def docs():
    return load_manifests(K8S)


def find(docs, kind, name=None):
    return next(d for _, d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


def test_the_manifests_are_valid_and_resilient(docs):
    kinds = sorted(d["kind"] for _, d in docs)
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "Job",
                 "PersistentVolumeClaim"):
        assert kind in kinds
    assert schema_errors(docs) == []
    assert resilience_problems(docs) == []


def test_an_unknown_field_fails_the_strict_schema(docs):
    bad = copy.deepcopy(docs)
    find(bad, "Deployment", "model-serving")["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    errors = schema_errors(bad)
    assert len(errors) == 1 and "model-serving" in errors[0]


def test_a_wrong_type_fails_the_schema(docs):
    bad = copy.deepcopy(docs)
    find(bad, "Deployment", "model-serving")["spec"]["replicas"] = "six"
    assert any("replicas" in e for e in schema_errors(bad))


@pytest.mark.parametrize("plant, expected", [
    (lambda d: find(d, "Deployment", "model-serving")["spec"]["template"]["spec"].pop("topologySpreadConstraints"),
     "no topologySpreadConstraints over topology.kubernetes.io/zone"),
    (lambda d: find(d, "Deployment", "model-serving")["spec"]["template"]["spec"]["containers"][0].pop("livenessProbe"),
     "has no livenessProbe"),
    (lambda d: find(d, "PodDisruptionBudget").__setitem__("spec", {"minAvailable": 6, "selector": {
        "matchLabels": {"app": "model-serving"}}}), "blocks draining a zone"),
    (lambda d: find(d, "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].__setitem__("name", "other"),
     "no HorizontalPodAutoscaler targets it"),
    (lambda d: find(d, "Job")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].pop("nvidia.com/gpu"),
     "requests no nvidia.com/gpu"),
    (lambda d: d.remove(next(x for x in d if x[1]["kind"] == "PersistentVolumeClaim"
                             and x[1]["metadata"]["name"] == "checkpoints")), "mounts PVC checkpoints"),
])
def test_each_planted_resilience_defect_is_named(docs, plant, expected):
    bad = copy.deepcopy(docs)
    plant(bad)
    problems = resilience_problems(bad)
    assert any(expected in p for p in problems), problems
