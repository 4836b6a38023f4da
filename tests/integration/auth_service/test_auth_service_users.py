"""The auth service's user administration: PutUsers (created, unchanged, updated; all or nothing),
create, update, delete, list, and the limits of a user's fields."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tests.support.auth_client import UNAUTHENTICATED, AuthClient, user_spec
from tests.support.rpc import refusal, unique_login
from xuc.runtime.grpc_errors import reason_of
from xucproto.auth.v1 import auth_pb2


# --- regressions: bugs found by these tests, fixed ----------------------------------------------------
async def _outcome(call: Any) -> Any:
    """What a call answered: its reply, or its AioRpcError."""
    try:
        return await call
    except grpc.aio.AioRpcError as error:
        return error


# --- user administration -------------------------------------------------------------------------
async def test_put_users_reports_created_then_unchanged_then_updated(auth: AuthClient) -> None:
    ann, bob = unique_login("ann"), unique_login("bob")
    batch = [user_spec(ann, "ann-pw", firstname="Ann", line="1001"), user_spec(bob, "bob-pw", lastname="Bee")]

    created = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert [(result.user.login, result.outcome) for result in created.results] == [(ann, "created"), (bob, "created")]
    ids = [result.user.id for result in created.results]
    assert all(ids)
    assert len(set(ids)) == 2

    again = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert [(result.user.id, result.outcome) for result in again.results] == [(ids[0], "unchanged"),
                                                                               (ids[1], "unchanged")]

    changed = [user_spec(ann, "ann-pw", firstname="Anna", line="1001"),  # profile changed
               user_spec(bob, "bob-new-pw", lastname="Bee")]  # password changed
    updated = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=changed), metadata=auth.service)
    assert [(result.user.id, result.outcome) for result in updated.results] == [(ids[0], "updated"),
                                                                                 (ids[1], "updated")]

    stored_ann = await auth.get_user(ann)
    assert (stored_ann.firstname, stored_ann.line) == ("Anna", "1001")
    assert (await auth.login(bob, "bob-new-pw")).login == bob
    assert await refusal(auth.stub.Login(auth_pb2.LoginRequest(login=bob, password="bob-pw"), metadata=auth.service)) \
        == (UNAUTHENTICATED, "InvalidCredentials")


@pytest.mark.parametrize(
    "invalid",
    [{"login": "bad login"}, {"password": ""}, {"line": "not a number"}],
    ids=["login-with-space", "empty-password", "bad-line"],
)
async def test_put_users_refuses_a_batch_with_an_invalid_user_and_creates_none(
    auth: AuthClient, invalid: dict[str, str]
) -> None:
    valid, other = unique_login("valid"), unique_login("other")
    fields = {"login": other, "password": "pw", **invalid}
    batch = [user_spec(valid), auth_pb2.CreateUserRequest(**fields)]
    before = await auth.logins()

    refused = auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert await refusal(refused) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidUser")

    assert await auth.logins() == before
    assert await refusal(auth.stub.GetUser(auth_pb2.GetUserRequest(login=valid), metadata=auth.service)) \
        == (grpc.StatusCode.NOT_FOUND, "UserNotFound")


async def test_user_administration(auth: AuthClient) -> None:
    login = unique_login("carol")
    created = await auth.create_user(login, "carol-pw", firstname="Carol", lastname="Sea", line="1002",
                                     mobile="+33600000000")
    assert created.id
    assert created.login == login

    duplicate = auth.stub.CreateUser(user_spec(login, "other-pw"), metadata=auth.service)
    assert await refusal(duplicate) == (grpc.StatusCode.ALREADY_EXISTS, "UserAlreadyExists")
    assert await auth.get_user(login) == created

    # Only the fields set change; an explicitly empty field is cleared.
    update = auth_pb2.UpdateUserRequest(login=login, firstname="Caroline")
    updated = await auth.stub.UpdateUser(update, metadata=auth.service)
    assert updated == auth_pb2.User(id=created.id, login=login, firstname="Caroline", lastname="Sea", line="1002",
                                    mobile="+33600000000")
    assert await auth.get_user(login) == updated
    assert (await auth.login(login, "carol-pw")).login == login  # the password did not change
    cleared = await auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=login, mobile=""), metadata=auth.service)
    assert (cleared.firstname, cleared.mobile) == ("Caroline", "")

    missing = unique_login("missing")
    for refused in (
        auth.stub.UpdateUser(auth_pb2.UpdateUserRequest(login=missing, firstname="X"), metadata=auth.service),
        auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=missing), metadata=auth.service),
    ):
        assert await refusal(refused) == (grpc.StatusCode.NOT_FOUND, "UserNotFound")

    await auth.stub.DeleteUser(auth_pb2.DeleteUserRequest(login=login), metadata=auth.service)
    assert await refusal(auth.stub.GetUser(auth_pb2.GetUserRequest(login=login), metadata=auth.service)) \
        == (grpc.StatusCode.NOT_FOUND, "UserNotFound")
    assert login not in await auth.logins()


async def test_list_users_is_sorted_by_login(auth: AuthClient) -> None:
    suffix = unique_login("")
    mine = [f"{prefix}{suffix}" for prefix in ("zed", "amy", "mia", "amx")]
    for login in mine:
        await auth.create_user(login)
    logins = await auth.logins()
    assert logins == sorted(logins)
    assert [login for login in logins if login in mine] == sorted(mine)


async def test_a_33_character_phone_number_is_stored_or_refused_but_not_an_internal_error(auth: AuthClient) -> None:
    line = "+" + "1" * 32
    outcome = await _outcome(auth.stub.CreateUser(user_spec(unique_login("long"), line=line), metadata=auth.service))
    if isinstance(outcome, grpc.aio.AioRpcError):
        assert (outcome.code(), reason_of(outcome)) == (grpc.StatusCode.INVALID_ARGUMENT, "InvalidUser")
    else:
        assert (await auth.get_user(outcome.login)).line == line


async def test_a_put_users_cut_short_by_its_deadline_leaves_nothing_behind(auth: AuthClient) -> None:
    # Hashing a new user's password takes ~0.1 s: the deadline cancels the batch part-way through.
    batch = [user_spec(unique_login("cut")) for _ in range(12)]
    cut_short = await _outcome(auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service,
                                                  timeout=0.5))
    assert isinstance(cut_short, grpc.aio.AioRpcError), "the batch finished before its deadline: make it longer"
    assert cut_short.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    again = await auth.stub.PutUsers(auth_pb2.PutUsersRequest(users=batch), metadata=auth.service)
    assert [result.outcome for result in again.results] == ["created"] * len(batch)
