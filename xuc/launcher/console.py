"""What `xuc up` tells the operator: its own lines (`xuc: ...`) and the errors it explains."""

from __future__ import annotations


class CliError(Exception):
    """A failure explained to the operator: printed as `xuc: <message>`, without a traceback."""


class StartError(CliError):
    """A component did not come up; the stack is stopped."""


def say(message: str) -> None:
    print(f"xuc: {message}", flush=True)


def say_up(name: str, address: str, metrics: str = "") -> None:
    """`<name> up  <address>`, and where its Prometheus metrics are when it serves them."""
    say(f"{name:<8} up  {address}" + (f"  metrics http://{metrics}/metrics" if metrics else ""))
