"""`xuc up`: the whole system as supervised child processes on one machine.

- topology.py: which components run, in which order, how many replicas, each replica's environment;
- nats_server.py: the NATS server we run when XUC_NATS_URL names none;
- replicas.py: starting a component's replicas, restarting one that exits;
- readiness.py: ready files, health probes, start deadlines;
- supervisor.py: the child processes (parent-death signal, output relayed, exits watched, stops);
- service_token.py: the admin token services trust;
- up.py: `up()` itself, tying them together until Ctrl-C/SIGTERM or a component's exit.
"""

from xuc.launcher.console import CliError, StartError
from xuc.launcher.service_token import ensure_service_token, load_service_token
from xuc.launcher.up import up

__all__ = ["CliError", "StartError", "ensure_service_token", "load_service_token", "up"]
