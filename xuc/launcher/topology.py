"""What `xuc up` runs: the components in start order, how many processes of each (XUC_REPLICAS),
and each replica's environment.

Start order: auth, telephony, contacts, then the gateway (after NATS, xuc/launcher/nats_server.py).
Each component is awaited before the next starts, since the later ones are given the earlier
ones' addresses (XUC_AUTH_ADDRESS, ...); stopping goes in reverse order, so that no component
loses a dependency while it drains. Contacts asks telephony for phone statuses, so telephony
starts first.

A new component is one entry of COMPONENTS: its name (XUC_<NAME>_* variables, its run and ready
files), the module run with `python -m`, what it serves (how it is probed, whether later
components get its address) and, if it runs only in some deployments, when.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from xuc.runtime.settings import Settings


class Serves(enum.Enum):
    """What a component serves, hence how it is probed and what it writes in its ready file."""

    GRPC = "grpc"  # gRPC on its own port per replica, probed by the health service; later ones get its address
    HTTP = "http"  # the HTTP API on one port shared by the replicas, probed by GET /health/ready
    NOTHING = "nothing"  # a worker: its ready file (written once it works) is the whole probe


def _always(settings: Settings) -> bool:
    return True


@dataclass(frozen=True)
class Component:
    name: str
    module: str
    serves: Serves
    runs_when: Callable[[Settings], bool] = _always  # the deployment needs it

    @property
    def address_key(self) -> str:
        """Where it serves, in its ready file ("" for a worker)."""
        return "" if self.serves is Serves.NOTHING else self.serves.value

    @property
    def address_variable(self) -> str:
        """The variable that tells later components where it serves (gRPC services only)."""
        return f"XUC_{self.name.upper()}_ADDRESS"


COMPONENTS = (
    Component("auth", "services.auth", Serves.GRPC),
    Component("telephony", "services.telephony", Serves.GRPC),
    Component("contacts", "services.contacts", Serves.GRPC),
    Component("gateway", "gateway", Serves.HTTP),
)


def replica_counts(settings: Settings) -> dict[str, int]:
    """Processes per component: XUC_REPLICAS for the replicated ones (settings.REPLICATED_COMPONENTS), 1 else."""
    counts = dict(settings.replicas)
    return {component.name: counts.get(component.name, 1) for component in COMPONENTS}


def _with_port(listen: str, port: int) -> str:
    host, _, _ = listen.rpartition(":")
    return f"{host}:{port}"


def _port_of(listen: str) -> int:
    port = listen.rpartition(":")[2]
    return int(port) if port.isdigit() else 0


def replica_env(component: Component, index: int, env: dict[str, str]) -> dict[str, str]:
    """The environment of replica `index` (1-based): fixed ports (XUC_<NAME>_GRPC_LISTEN, metrics)
    shifted by index - 1, so that replicas never compete for one; port 0 (any free port) left as it
    is. Gateway replicas share their HTTP port instead (SO_REUSEPORT), and serve metrics on it."""
    own = dict(env)
    if index == 1 or component.serves is Serves.HTTP:
        return own
    settings = Settings.from_env(component.name, env)
    prefix = f"XUC_{component.name.upper()}_"
    if _port_of(settings.grpc_listen):
        own[f"{prefix}GRPC_LISTEN"] = _with_port(settings.grpc_listen, _port_of(settings.grpc_listen) + index - 1)
    if _port_of(settings.metrics_listen):
        own[f"{prefix}METRICS_LISTEN"] = _with_port(settings.metrics_listen,
                                                   _port_of(settings.metrics_listen) + index - 1)
    return own
