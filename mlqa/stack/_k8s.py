"""Offline checks of the stack's Kubernetes manifests: each object against the Kubernetes
OpenAPI schema (kubernetes-validate, strict: unknown fields are errors), then the
resilience properties the local stack proves — serving spread over zones with probes, a
disruption budget that survives a zone, an autoscaler and a network policy that select
it, a service that routes to it, training that asks for GPUs and keeps checkpoints on a
volume, every PVC it mounts declared."""
from __future__ import annotations

from pathlib import Path
from typing import Any

ZONE_KEY = "topology.kubernetes.io/zone"


def load_manifests(folder: Path) -> list[tuple[str, dict]]:
    import yaml
    docs = []
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


def schema_errors(docs: list[tuple[str, dict]], version: str | None = None) -> list[str]:
    import kubernetes_validate
    from kubernetes_validate import utils
    version = version or utils.latest_version()
    errors = []
    for name, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}: "
                          f"{'.'.join(map(str, exc.path))}: {exc.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
            errors.append(f"{name}: {doc.get('kind')}: no schema ({exc})")
    return errors


def _selects(selector: dict | None, labels: dict) -> bool:
    wanted = (selector or {}).get("matchLabels", selector or {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def resilience_problems(docs: list[tuple[str, dict]]) -> list[str]:
    """What the manifests lack of the properties the local stack is tested for."""
    objs = [d for _, d in docs]
    kinds = {k: [d for d in objs if d.get("kind") == k] for k in
             ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "NetworkPolicy", "Job",
              "PersistentVolumeClaim")}
    problems = []
    serving = [d for d in kinds["Deployment"] if any(c.get("readinessProbe", {}).get("httpGet")
                                                      for c in _pod(d)["containers"])]
    if not serving:
        return ["no serving Deployment (a Deployment whose containers have an HTTP readiness probe)"]
    for dep in serving:
        name, labels, pod = dep["metadata"]["name"], _pod_labels(dep), _pod(dep)
        spread = [c for c in pod.get("topologySpreadConstraints", []) if c.get("topologyKey") == ZONE_KEY]
        if not spread:
            problems.append(f"Deployment/{name}: no topologySpreadConstraints over {ZONE_KEY}")
        elif not any(c.get("whenUnsatisfiable") == "DoNotSchedule" and c.get("maxSkew", 99) <= 1 for c in spread):
            problems.append(f"Deployment/{name}: the zone spread is not enforced (maxSkew 1, DoNotSchedule)")
        for c in pod["containers"]:
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    problems.append(f"Deployment/{name}: container {c['name']} has no {probe}")
        replicas = dep["spec"].get("replicas", 1)
        pdbs = [p for p in kinds["PodDisruptionBudget"] if _selects(p["spec"].get("selector"), labels)]
        if not pdbs:
            problems.append(f"Deployment/{name}: no PodDisruptionBudget selects it")
        for p in pdbs:
            min_av = p["spec"].get("minAvailable")
            if isinstance(min_av, int) and min_av > replicas - replicas // 3:
                problems.append(f"PodDisruptionBudget/{p['metadata']['name']}: minAvailable {min_av} of {replicas} "
                                "blocks draining a zone")
        if not any(h["spec"]["scaleTargetRef"].get("name") == name for h in kinds["HorizontalPodAutoscaler"]):
            problems.append(f"Deployment/{name}: no HorizontalPodAutoscaler targets it")
        if not any(_selects(n["spec"].get("podSelector"), labels) for n in kinds["NetworkPolicy"]):
            problems.append(f"Deployment/{name}: no NetworkPolicy selects it")
        if not any(s["spec"].get("selector") and all(labels.get(k) == v for k, v in s["spec"]["selector"].items())
                   for s in kinds["Service"]):
            problems.append(f"Deployment/{name}: no Service routes to it")
    for job in kinds["Job"]:
        name, pod = job["metadata"]["name"], _pod(job)
        if not any("nvidia.com/gpu" in (c.get("resources", {}).get("limits") or {}) for c in pod["containers"]):
            problems.append(f"Job/{name}: requests no nvidia.com/gpu")
        if not any(v.get("persistentVolumeClaim") for v in pod.get("volumes", [])):
            problems.append(f"Job/{name}: keeps no checkpoints on a PersistentVolumeClaim")
    declared = {p["metadata"]["name"] for p in kinds["PersistentVolumeClaim"]}
    for d in kinds["Deployment"] + kinds["Job"]:
        for v in _pod(d).get("volumes", []):
            claim = (v.get("persistentVolumeClaim") or {}).get("claimName")
            if claim and claim not in declared:
                problems.append(f"{d['kind']}/{d['metadata']['name']}: mounts PVC {claim}, which is not declared")
    return problems


def _pod(obj: dict) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def _pod_labels(obj: dict) -> dict:
    return obj["spec"]["template"]["metadata"].get("labels", {})
