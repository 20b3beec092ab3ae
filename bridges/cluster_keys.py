"""CURVE inside a cluster: one key pair that every member holds.

The gateway's ingest socket and each shard's command socket serve with the pair and admit
only its public key; each shard's event PUB and the gateway's clients of the shards connect
with it. Holding the secret is membership, as a cluster's shared token would be, and
nobody else can read, inject or forge the events or commands that cross between machines.
``tradeactors keygen DIR --name cluster`` writes the pair; every node needs the directory at
the same path (a shard restarted on any node reads it there).
"""

from __future__ import annotations

import stat
from pathlib import Path

import attrs
import zmq.auth

from bridges.zmq_client import ClientCurve
from bridges.zmq_server import CurveConfig

NAME = "cluster"


@attrs.frozen
class ClusterKeys:
    directory: Path = attrs.field(converter=Path)

    @property
    def public_file(self) -> Path:
        return self.directory / f"{NAME}.key"

    @property
    def secret_file(self) -> Path:
        return self.directory / f"{NAME}.key_secret"

    def check(self) -> ClusterKeys:
        """The pair is there, readable by ``zmq.auth``, its secret owner-only, and no other
        public key lies beside it (the directory is the allow-list: it would be admitted)."""
        for path in (self.public_file, self.secret_file):
            try:
                _public, secret = zmq.auth.load_certificate(path)
            except (OSError, ValueError) as error:
                raise ValueError(
                    f"cluster keys {self.directory}: cannot read {path.name} ({error}); "
                    f"write the pair with: tradeactors keygen {self.directory} --name {NAME}"
                ) from None
        if secret is None:
            raise ValueError(f"cluster keys: {self.secret_file} holds no secret key")
        if self.secret_file.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValueError(
                f"cluster keys: {self.secret_file} is readable by others; chmod 600 it"
            )
        strangers = sorted(
            p.name for p in self.directory.glob("*.key") if p.name != self.public_file.name
        )
        if strangers:
            raise ValueError(
                f"cluster keys {self.directory}: {', '.join(strangers)} would be admitted "
                "too; keep the cluster's pair alone in its directory"
            )
        return self

    def server(self) -> CurveConfig:
        return CurveConfig(server_secret_file=self.secret_file, allowed_clients_dir=self.directory)

    def client(self) -> ClientCurve:
        return ClientCurve(server_public_file=self.public_file, client_secret_file=self.secret_file)

    def apply_client(self, socket: zmq.Socket[bytes]) -> None:
        self.client().apply(socket)
