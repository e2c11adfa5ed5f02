"""deploy/k8s against the Kubernetes OpenAPI schemas (kubernetes-validate, offline, strict: unknown fields
fail), for the oldest and the newest Kubernetes it bundles that we support. Custom resources (KEDA's
ScaledObject) and the Kustomization have no schema there; tests/deploy/test_deploy_k8s.py checks them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
BUILT_IN = ("v1", "apps/v1", "policy/v1", "batch/v1", "networking.k8s.io/v1", "autoscaling/v2")
OLDEST = "1.28.0"
"""Still served by the managed clouds when this was written; every manifest uses only GA APIs."""
MANIFESTS = [
    (path.name, doc)
    for path in sorted(K8S.glob("*.yaml"))
    for doc in yaml.safe_load_all(path.read_text())
    if doc and doc.get("apiVersion") in BUILT_IN
]
DOCS = [pytest.param(doc, id=f"{name}:{doc['kind']}/{doc['metadata']['name']}") for name, doc in MANIFESTS]


def test_every_built_in_kind_is_checked():
    kinds = {doc["kind"] for _, doc in MANIFESTS}
    assert {"Deployment", "StatefulSet", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} <= kinds


@pytest.mark.parametrize("version", [OLDEST, kubernetes_validate.latest_version()])
@pytest.mark.parametrize("doc", DOCS)
def test_manifest_matches_the_kubernetes_schema(doc, version):
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} on {version}: {exc.message} at {list(exc.path)}")
