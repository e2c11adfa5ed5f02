"""Port picking for the local servers the stack and the tests start."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from shiftclipper_common import localinfra
from shiftclipper_common.localinfra import (
    EPHEMERAL_RANGE,
    ManagedProcess,
    bypass_proxy_for_loopback,
    claim_port,
    free_port,
)


def test_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(1024 <= p < low for p in ports)  # never a port an outgoing connection could take meanwhile
    assert len(ports) > 10  # drawn at random, so concurrent callers rarely pick the same one
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_port_never_repeats_within_a_process() -> None:
    # SeaweedFS takes eight ports drawn one after another; one drawn twice made it exit before it listened
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


def test_a_claimed_port_is_never_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # `shiftclipper up` claims its gateway port, then SeaweedFS draws eight: none may be the gateway's
    monkeypatch.setattr(localinfra, "PORT_WINDOW", 64)  # draws cover the whole window
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    window = range(low - 64, low)
    preferred = next(p for p in window if p not in localinfra._handed_out and localinfra.port_is_free(p))
    assert claim_port(preferred) == preferred
    drawn = {free_port() for _ in range(40)}
    assert preferred not in drawn and len(drawn) == 40
    assert claim_port(preferred) != preferred  # claimed once: a second claim gets another port


def test_a_taken_preferred_port_is_replaced() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        assert claim_port(taken) != taken


def test_a_server_that_dies_before_listening_says_why(tmp_path: Path) -> None:
    # the shape of SeaweedFS's crash on a taken port: one fatal line, then a goroutine dump
    crash = "print('I1206 starting'); print('F1206 listen tcp: bind: address already in use');"
    crash += "print('goroutine 1 [running]:\\n' * 50); raise SystemExit(255)"
    server = ManagedProcess("crash", [sys.executable, "-c", crash], tmp_path / "crash.log", ready_port=free_port())
    with pytest.raises(RuntimeError, match=r"exited with 255[^\n]*\n.*address already in use") as raised:
        server.start(timeout=30)
    server.stop()
    assert "goroutine" not in str(raised.value)


def test_loopback_bypasses_any_proxy() -> None:
    env = {"NO_PROXY": "internal.example, localhost"}
    bypass_proxy_for_loopback(env)
    bypass_proxy_for_loopback(env)  # idempotent: `up` may start twice in one process
    assert env["NO_PROXY"] == "internal.example,localhost,127.0.0.1"
    assert env["no_proxy"] == "127.0.0.1,localhost"  # FFmpeg reads only the lower-case one
