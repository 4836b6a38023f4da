"""`xuc keys list|rotate`: the token signing keys, through auth's admin RPCs (auth must run)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC
from typing import Any

from xuc.provisioning import CALL_SECONDS, connect
from xuc.runtime.settings import Settings
from xucproto.auth.v1 import auth_pb2

COLUMNS = ("kid", "generation", "state", "created", "signs from", "signs until")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser],
               common: argparse.ArgumentParser) -> None:
    keys = commands.add_parser("keys", help="list or rotate the token signing keys",
                               description="The token signing keys, through the running auth service "
                                           "(XUC_AUTH_ADDRESS or the running `xuc up`).")
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", parents=[common], help="list the keys and their schedule")
    actions.add_parser("rotate", parents=[common], help="create the next key now",
                       description="Create the next signing key now: published at once, it signs after "
                                   "XUC_SIGNING_KEY_PREPUBLISH_S; the current key stays published until its "
                                   "tokens expire. The other auth replicas take it up at their next reload.")


def _when(stamp: Any, is_set: bool = True) -> str:
    return stamp.ToDatetime(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if is_set else "-"


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def render(keys: Sequence[auth_pb2.SigningKey]) -> str:
    return table([COLUMNS, *((key.kid, str(key.generation), key.state, _when(key.created_at),
                              _when(key.active_from), _when(key.retired_at, key.HasField("retired_at")))
                             for key in keys)])


async def _run(action: str) -> str:
    async with connect(Settings.from_env()) as system:
        if action == "list":
            listing = await system.auth.ListSigningKeys(auth_pb2.ListSigningKeysRequest(), metadata=system.metadata,
                                                        timeout=CALL_SECONDS)
            return render(listing.keys)
        reply = await system.auth.RotateSigningKey(auth_pb2.RotateSigningKeyRequest(), metadata=system.metadata,
                                                   timeout=CALL_SECONDS)
    return (f"{render(reply.keys)}\nkey {reply.key.kid} signs from {_when(reply.key.active_from)}; "
            f"{'a rotation was already under way' if reply.already_under_way else 'published now'}")


def run(args: argparse.Namespace) -> int:
    print(asyncio.run(_run(args.action)))
    return 0
