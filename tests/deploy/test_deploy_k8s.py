"""deploy/k8s: every manifest parses and carries what production needs (probes, resources, non-root,
GPU for the tracker, a 3-node JetStream cluster, KEDA on the right stream/consumer pairs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shiftclipper_contracts import names
from shiftclipper_contracts.config import ENV_PREFIX, SECRET_FIELDS, ServiceConfig

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
DOCS = [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())


def find(kind: str, name: str) -> dict:
    return next(d for d in DOCS if d["kind"] == kind and d["metadata"]["name"] == name)


def containers(kind: str, name: str) -> dict[str, dict]:
    return {c["name"]: c for c in find(kind, name)["spec"]["template"]["spec"]["containers"]}


def test_manifests_parse_with_required_fields():
    assert len(DOCS) >= 15
    for doc in DOCS:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"]
        if doc["kind"] not in ("Kustomization", "Namespace"):
            assert doc["metadata"]["namespace"] == "shiftclipper", doc["metadata"]["name"]


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(KUSTOMIZATION["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}


@pytest.mark.parametrize("name", ["api", "tracker", "exporter"])
def test_deployments_are_probed_limited_and_non_root(name):
    deployment = find("Deployment", name)
    pod = deployment["spec"]["template"]["spec"]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    (container,) = pod["containers"]
    assert container["image"] in {i["name"] for i in KUSTOMIZATION["images"]}
    assert container["livenessProbe"] and container["readinessProbe"]
    assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # writable scratch
    refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert refs == {"shiftclipper-config", "shiftclipper-secrets"}


def test_gateway_probes_use_health_endpoints():
    api = containers("Deployment", "api")["api"]
    assert api["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert api["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    service = find("Service", "api")
    assert service["spec"]["selector"] == find("Deployment", "api")["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("name", ["tracker", "exporter"])
def test_worker_probes_use_their_health_port(name):
    container = containers("Deployment", name)[name]
    port = {e["name"]: e.get("value") for e in container["env"]}["SHIFTCLIPPER_METRICS_PORT"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
        get = container[probe]["httpGet"]
        assert get["path"] == path and ports[get["port"]] == int(port), probe
    if "startupProbe" in container:
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live"  # never restart on a NATS outage
    annotations = find("Deployment", name)["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == port


def test_streams_are_replicated_on_the_three_node_cluster():
    config = find("ConfigMap", "shiftclipper-config")["data"]
    assert config["SHIFTCLIPPER_STREAM_REPLICAS"] == str(find("StatefulSet", "nats")["spec"]["replicas"])


def test_tracker_gets_a_gpu_and_mounted_models():
    tracker = containers("Deployment", "tracker")["tracker"]
    assert tracker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert tracker["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in tracker["volumeMounts"]
    env = {e["name"]: e["value"] for e in tracker["env"]}
    assert env["SHIFTCLIPPER_DEVICE"] == "cuda"
    assert env["SHIFTCLIPPER_API_KEYS"] == "" and env["SHIFTCLIPPER_ADMIN_KEY"] == ""  # workers hold no API keys
    assert find("ConfigMap", "shiftclipper-config")["data"]["SHIFTCLIPPER_MODEL_PATH"].startswith("/models/")


def test_nats_is_a_three_node_jetstream_cluster():
    sts = find("StatefulSet", "nats")
    assert sts["spec"]["replicas"] == 3 and sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    conf = find("ConfigMap", "nats-config")["data"]["nats.conf"]
    assert "sync_interval: always" in conf and "store_dir: /data/jetstream" in conf
    routes = [line.strip() for line in conf.splitlines() if line.strip().startswith("nats://nats-")]
    assert routes == [f"nats://nats-{i}.nats-headless.shiftclipper.svc.cluster.local:6222" for i in range(3)]
    nats = containers("StatefulSet", "nats")["nats"]
    assert "js-enabled-only" in nats["livenessProbe"]["httpGet"]["path"]
    assert nats["readinessProbe"]["httpGet"]["port"] == "monitor"
    assert find("Service", "nats-headless")["spec"]["publishNotReadyAddresses"] is True
    assert find("PodDisruptionBudget", "nats")["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(
    ("target", "stream", "consumer"),
    [
        ("tracker", names.WORK_STREAM, names.TRACKER_CONSUMER),
        ("exporter", names.EVENTS_STREAM, names.EXPORTER_CONSUMER),
    ],
)
def test_keda_scales_on_consumer_lag(target, stream, consumer):
    scaled = find("ScaledObject", target)
    assert scaled["spec"]["scaleTargetRef"]["name"] == target
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    meta = trigger["metadata"]
    assert (meta["stream"], meta["consumer"]) == (stream, consumer)
    assert meta["natsServerMonitoringEndpoint"] == "nats.shiftclipper.svc.cluster.local:8222"
    assert all(isinstance(v, str) for v in meta.values())  # KEDA metadata values are strings
    assert scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]


def test_config_map_and_secret_hold_only_known_settings():
    fields = {ENV_PREFIX + name.upper() for name in ServiceConfig.__struct_fields__}
    secrets = {ENV_PREFIX + name.upper() for name in SECRET_FIELDS} | {"SHIFTCLIPPER_S3_ACCESS_KEY"}
    config = find("ConfigMap", "shiftclipper-config")["data"]
    assert config.keys() <= fields - secrets
    assert all(isinstance(v, str) for v in config.values())
    secret = find("Secret", "shiftclipper-secrets")["stringData"]
    assert secret.keys() == secrets
    assert all(v == "" for v in secret.values()), "no real secrets in the repository"


def test_grafana_dashboard_watches_our_consumers():
    import json

    dashboard = json.loads((K8S.parent / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    assert "shiftclipper_jobs" in exprs
    pairs = ((names.WORK_STREAM, names.TRACKER_CONSUMER), (names.EVENTS_STREAM, names.EXPORTER_CONSUMER))
    for stream, consumer in pairs:
        assert f'stream_name="{stream}",consumer_name="{consumer}"' in exprs
