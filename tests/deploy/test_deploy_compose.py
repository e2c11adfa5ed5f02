"""docker-compose.yml: pure-Python checks that always run, and `docker-compose config` where installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shiftclipper_contracts.config import ENV_PREFIX, SECRET_FIELDS, ServiceConfig, load_config

REPO = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = "\n".join(  # without comment lines
    line for line in (REPO / "docker-compose.yml").read_text().splitlines() if not line.lstrip().startswith("#")
)
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
LONG_RUNNING = ("nats", "minio", "api", "tracker", "tracker-cpu", "exporter")
SECRET_VARS = {ENV_PREFIX + name.upper() for name in SECRET_FIELDS} | {
    "SHIFTCLIPPER_S3_ACCESS_KEY", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD",
}  # fmt: skip
REFERENCE = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")
TEST_SECRETS = {
    "MINIO_ROOT_USER": "root",
    "MINIO_ROOT_PASSWORD": "root-pass-123",
    "SHIFTCLIPPER_S3_ACCESS_KEY": "svc",
    "SHIFTCLIPPER_S3_SECRET_KEY": "svc-secret-123",
    "SHIFTCLIPPER_API_KEYS": "alice:k1",
    "SHIFTCLIPPER_ADMIN_KEY": "k2",
}


def env_of(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def test_services_restart_and_healthchecks():
    assert set(LONG_RUNNING) | {"minio-init"} <= SERVICES.keys()
    for name in LONG_RUNNING:
        service = SERVICES[name]
        assert service.get("restart") in ("unless-stopped", "always"), name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert SERVICES["minio-init"]["restart"] == "no"


def test_worker_healthchecks_use_their_readiness_endpoint():
    for name in ("tracker", "tracker-cpu", "exporter"):
        port = env_of(name)["SHIFTCLIPPER_METRICS_PORT"]
        test = SERVICES[name]["healthcheck"]["test"]
        assert test == ["CMD", "python", "/usr/local/bin/sc-healthcheck", f"http://127.0.0.1:{port}/health/ready"]
    assert SERVICES["api"]["healthcheck"]["test"][-1] == "http://127.0.0.1:8000/health/ready"


def test_start_order_waits_for_health_and_bucket():
    for name in ("api", "tracker", "tracker-cpu", "exporter"):
        depends = SERVICES[name]["depends_on"]
        assert depends["nats"]["condition"] == "service_healthy"
        assert depends["minio-init"]["condition"] == "service_completed_successfully"
    assert "mc mb --ignore-existing" in SERVICES["minio-init"]["command"][0]


def test_named_volumes_hold_the_state():
    assert {"nats-data", "minio-data"} <= COMPOSE["volumes"].keys()
    assert "nats-data:/data" in SERVICES["nats"]["volumes"]
    assert "minio-data:/data" in SERVICES["minio"]["volumes"]


def test_nats_jetstream_file_storage_fsync_and_monitoring():
    mounts = SERVICES["nats"]["volumes"]
    conf_mount = next(m for m in mounts if m.endswith(":/etc/nats/nats.conf:ro"))
    conf = (REPO / conf_mount.split(":")[0]).read_text()
    assert "sync_interval: always" in conf
    assert 'store_dir: "/data/jetstream"' in conf
    assert "http: 0.0.0.0:8222" in conf
    assert "healthz?js-enabled-only=true" in " ".join(SERVICES["nats"]["healthcheck"]["test"])


def test_tracker_gpu_reservation_and_cpu_profile():
    gpu, cpu = SERVICES["tracker"], SERVICES["tracker-cpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert gpu["profiles"] == ["gpu"] and cpu["profiles"] == ["cpu"]
    assert "deploy" not in cpu
    assert env_of("tracker")["SHIFTCLIPPER_DEVICE"] == "cuda" and env_of("tracker-cpu")["SHIFTCLIPPER_DEVICE"] == "cpu"
    assert gpu["build"]["args"]["TORCH_INDEX_URL"].endswith("/cu124")
    assert cpu["build"]["args"]["TORCH_INDEX_URL"].endswith("/whl/cpu")
    for service in (gpu, cpu):
        assert any(v.endswith(":/models:ro") for v in service["volumes"])
    assert env_of("tracker")["SHIFTCLIPPER_MODEL_PATH"].startswith("${SHIFTCLIPPER_MODEL_PATH:-/models/")


def test_no_default_secrets():
    for service in SERVICES.values():
        for key, value in service.get("environment", {}).items():
            refs = REFERENCE.findall(str(value))
            if key in SECRET_VARS or any(name in SECRET_VARS for name, _, _ in refs):
                assert refs and all(op == "?" for _, op, _ in refs), f"{key}={value} must be ${{VAR:?message}}"
    for name, op, _ in REFERENCE.findall(COMPOSE_TEXT):
        assert not (name in SECRET_VARS and op == "-"), f"{name} has a default"


def test_shiftclipper_variables_are_config_fields():
    fields = {ENV_PREFIX + name.upper() for name in ServiceConfig.__struct_fields__}
    compose_only = {ENV_PREFIX + n for n in ("VERSION", "MODELS_DIR", "PUBLISH", "S3_PUBLISH")}  # not read by services
    for service in SERVICES.values():
        for key in service.get("environment", {}):
            assert not key.startswith(ENV_PREFIX) or key in fields, f"{key} is not a ServiceConfig field"
    referenced = {name for name, _, _ in REFERENCE.findall(COMPOSE_TEXT)}
    assert {n for n in referenced if n.startswith(ENV_PREFIX)} <= fields | compose_only


def test_env_example_covers_every_reference_and_holds_no_secret():
    lines = (REPO / ".env.example").read_text().splitlines()
    example = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    referenced = {name for name, _, _ in REFERENCE.findall(COMPOSE_TEXT)}
    tuning_defaults = {ENV_PREFIX + n for n in ("ACK_WAIT_S", "MAX_ATTEMPTS", "MAX_UPLOAD_BYTES", "ARTIFACT_URL_TTL_S")}
    assert referenced - tuning_defaults - {ENV_PREFIX + "OCR_ENGINE"} <= example.keys()
    for name in SECRET_VARS:
        assert example.get(name) == "", f"{name} must be empty in .env.example"
    assert example["COMPOSE_PROFILES"] == "gpu"
    fields = {ENV_PREFIX + name.upper() for name in ServiceConfig.__struct_fields__}
    load_config({k: v for k, v in example.items() if k in fields and v})  # the examples are valid values


DOCKER_COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(DOCKER_COMPOSE is None, reason="docker-compose not installed")


def compose(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    empty = tmp_path / "empty.env"  # never read a developer's .env
    empty.write_text("")
    return subprocess.run(
        [str(DOCKER_COMPOSE), "-f", str(REPO / "docker-compose.yml"), "--env-file", str(empty), *args],
        capture_output=True, text=True, timeout=60, cwd=REPO,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env},
    )  # fmt: skip


@needs_compose
def test_docker_compose_config_resolves(tmp_path):
    result = compose(tmp_path, "config", **TEST_SECRETS, COMPOSE_PROFILES="gpu")
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert resolved["api"]["environment"]["SHIFTCLIPPER_API_KEYS"] == "alice:k1"
    assert resolved["tracker"]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert resolved["minio-init"]["environment"]["S3_SECRET_KEY"] == "svc-secret-123"


@needs_compose
@pytest.mark.parametrize("missing", ["MINIO_ROOT_PASSWORD", "SHIFTCLIPPER_ADMIN_KEY"])
def test_docker_compose_refuses_missing_secret(tmp_path, missing):
    env = {k: v for k, v in TEST_SECRETS.items() if k != missing}
    result = compose(tmp_path, "config", **env)
    assert result.returncode != 0
    assert f"set {missing} in .env" in result.stderr
