"""Port picking for the local servers the stack and the tests start."""

from __future__ import annotations

import socket

from shiftclipper_common.localinfra import EPHEMERAL_RANGE, free_port


def test_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    low = int(EPHEMERAL_RANGE.read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(1024 <= p < low for p in ports)  # never a port an outgoing connection could take meanwhile
    assert len(ports) > 10  # drawn at random, so concurrent callers rarely pick the same one
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
