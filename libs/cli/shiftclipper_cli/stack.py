"""The embedded default: nats-server, SeaweedFS S3, gateway, tracker and exporter as supervised child
processes under one data directory. A second `up` on the same directory finds every earlier job."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from shiftclipper_common.localinfra import (
    ManagedProcess,
    S3Credentials,
    bypass_proxy_for_loopback,
    claim_port,
    log_tail,
    nats_process,
    seaweed_process,
    wait_http_ready,
    wait_s3_ready,
)
from shiftclipper_common.service import EXIT_CONFIG

DEFAULT_DATA_DIR = Path(os.environ.get("SHIFTCLIPPER_DATA_DIR", Path.home() / ".shiftclipper"))
SERVICES = ("api", "tracker", "exporter")
RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass
class StackInfo:
    """Persisted in `<data-dir>/stack.json`: credentials and ports survive restarts."""

    api_url: str
    api_key: str
    admin_key: str
    nats_port: int
    s3_port: int
    api_port: int
    s3_access_key: str
    s3_secret_key: str
    pid: int = 0

    @classmethod
    def load(cls, data_dir: Path) -> StackInfo | None:
        path = data_dir / "stack.json"
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def save(self, data_dir: Path) -> None:
        path = data_dir / "stack.json"
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)


def plan(data_dir: Path, host: str, port: int) -> StackInfo:
    """Reuse the data directory's keys and ports where still free; create them the first time."""
    old = StackInfo.load(data_dir)
    api_key = os.environ.get("SHIFTCLIPPER_API_KEYS", "") or (
        old.api_key if old else "dev:" + secrets.token_urlsafe(18)
    )
    admin_key = os.environ.get("SHIFTCLIPPER_ADMIN_KEY", "") or (old.admin_key if old else secrets.token_urlsafe(24))
    api_port = claim_port(port)
    return StackInfo(
        api_url=f"http://{host}:{api_port}",
        api_key=api_key,
        admin_key=admin_key,
        nats_port=claim_port(old.nats_port if old else 4222),
        s3_port=claim_port(old.s3_port if old else 8333),
        api_port=api_port,
        s3_access_key=old.s3_access_key if old else "sc" + secrets.token_hex(6),
        s3_secret_key=old.s3_secret_key if old else secrets.token_hex(20),
        pid=os.getpid(),
    )


def service_env(info: StackInfo, host: str) -> dict[str, str]:
    env = {
        "SHIFTCLIPPER_NATS_URL": f"nats://127.0.0.1:{info.nats_port}",
        "SHIFTCLIPPER_S3_ENDPOINT": f"http://127.0.0.1:{info.s3_port}",
        "SHIFTCLIPPER_S3_ACCESS_KEY": info.s3_access_key,
        "SHIFTCLIPPER_S3_SECRET_KEY": info.s3_secret_key,
        "SHIFTCLIPPER_API_KEYS": info.api_key,
        "SHIFTCLIPPER_ADMIN_KEY": info.admin_key,
        "SHIFTCLIPPER_HOST": host,
        "SHIFTCLIPPER_PORT": str(info.api_port),
    }
    return env


def model_problem() -> str | None:
    """Why the tracker could not load its detector here, or None. Checked before starting anything,
    so a missing model is one clear message instead of a tracker that restarts forever."""
    from shiftclipper_contracts.config import load_config

    path = Path(load_config().model_path).expanduser()
    if path.is_file():
        return None
    return (
        f"no detector weights at {path}: set SHIFTCLIPPER_MODEL_PATH to a .pt, .onnx, .engine or .tflite file "
        "(this build never downloads models at run time)"
    )


def public_key(info: StackInfo) -> str:
    """The key a client presents (the part after `name:`)."""
    first = info.api_key.split(",")[0]
    return first.partition(":")[2] or first


class Stack:
    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.host, self.port = host, port
        self.info: StackInfo
        self.infra: list[ManagedProcess] = []
        self.services: dict[str, ManagedProcess] = {}
        self._restarts: dict[str, int] = {}
        self.given_up: set[str] = set()
        """Children that exited with EXIT_CONFIG: their settings are wrong, so they stay down."""

    def start(self) -> StackInfo:
        bypass_proxy_for_loopback()  # for this process and every child
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.info = plan(self.data_dir, self.host, self.port)
        creds = S3Credentials(self.info.s3_access_key, self.info.s3_secret_key)
        logs = self.data_dir / "logs"
        nats = nats_process(self.data_dir / "nats", self.info.nats_port)
        nats.log_path = logs / "nats.log"
        s3 = seaweed_process(self.data_dir / "s3", self.info.s3_port, creds)
        s3.log_path = logs / "s3.log"
        try:
            self.infra = [nats.start()]
            self.infra.append(s3.start())
            wait_s3_ready(f"http://127.0.0.1:{self.info.s3_port}", creds, "shiftclipper")
            env = service_env(self.info, self.host)
            for name in SERVICES:
                argv = [sys.executable, "-m", f"shiftclipper_{name}"]
                self.services[name] = ManagedProcess(name, argv, logs / f"{name}.log", env=env).start()
            self.info.save(self.data_dir)
            self.wait_ready()
        except BaseException:
            self.stop()  # children run in their own sessions: nothing else would stop them
            raise
        return self.info

    def wait_ready(self, timeout: float = 180.0) -> None:
        def alive() -> bool:
            self.supervise()  # a child that dies while starting is restarted, not waited on forever
            return "api" not in self.given_up

        log = self.services["api"].log_path
        try:
            wait_http_ready(f"{self.info.api_url}/health/ready", alive, timeout)
        except TimeoutError:
            restarts = self._restarts.get("api", 0)
            raise TimeoutError(
                f"the gateway did not become ready in {timeout:.0f} s ({restarts} restarts); {log} ends:\n"
                + log_tail(log, lines=10)
            ) from None
        except RuntimeError:  # it exited on its settings (`alive`)
            raise SystemExit(f"the gateway cannot run with these settings; see {log}") from None

    def supervise(self) -> None:
        """Restart any child that died (with backoff between repeated restarts), except one that exited because
        of its settings: restarting cannot help, so it is reported once and left down."""
        for proc in [*self.infra, *self.services.values()]:
            if proc.alive or proc.name in self.given_up:
                continue
            if proc.exit_status == EXIT_CONFIG:
                self.given_up.add(proc.name)
                print(
                    f"[shiftclipper] {proc.name} cannot run with these settings (see {proc.log_path}); "
                    "not restarting it: fix them and run `shiftclipper up` again",
                    file=sys.stderr,
                )
                continue
            count = self._restarts.get(proc.name, 0)
            time.sleep(RESTART_BACKOFF_S[min(count, len(RESTART_BACKOFF_S) - 1)])
            self._restarts[proc.name] = count + 1
            print(f"[shiftclipper] {proc.name} exited; restarting (#{count + 1})", file=sys.stderr)
            proc.stop()
            proc.start()

    def stop(self) -> None:
        for proc in reversed([*self.infra, *self.services.values()]):
            proc.stop()


def run_up(data_dir: Path, host: str, port: int) -> int:
    stack = Stack(data_dir, host, port)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    if problem := model_problem():
        print(f"warning: {problem}; no tracker will run: jobs wait in the queue", file=sys.stderr)
    try:
        info = stack.start()
        print(f"ShiftClipper is running at {info.api_url}  (web UI, API, /schema)")
        print(f"API key (dev): {public_key(info)}")
        print(f"Data: {stack.data_dir}   Logs: {stack.data_dir / 'logs'}   Stop: Ctrl-C", flush=True)
        while not stopping:
            stack.supervise()
            time.sleep(0.5)
    finally:
        print("stopping…", file=sys.stderr)
        stack.stop()
    return 0
