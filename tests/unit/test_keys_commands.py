"""`xuc keys`: the table printed from auth's ListSigningKeys answer (xuc/keys_commands.py)."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from xuc.keys_commands import render
from xucproto.auth.v1 import auth_pb2


def at(epoch: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromSeconds(epoch)
    return stamp


def test_the_keys_are_a_table_with_a_dash_for_a_key_not_retired() -> None:
    keys = [auth_pb2.SigningKey(kid="old-kid", generation=1, state="signing", created_at=at(0),
                                active_from=at(0), retired_at=at(3600)),
            auth_pb2.SigningKey(kid="new", generation=2, state="pending", created_at=at(60), active_from=at(3600))]

    assert render(keys).splitlines() == [
        "kid      generation  state    created               signs from            signs until",
        "old-kid  1           signing  1970-01-01 00:00:00Z  1970-01-01 00:00:00Z  1970-01-01 01:00:00Z",
        "new      2           pending  1970-01-01 00:01:00Z  1970-01-01 01:00:00Z  -",
    ]
