"""gRPC channels to replicated services: targets, the service config, and its effect on real servers.

The behaviour tests run two real grpc.aio servers on loopback, each serving the Auth service (a
hand-written fake that answers with its own name) and the standard health service, and one channel
over both, as the gateway has to auth replicas.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from xuc.runtime import grpc_client
from xuc.runtime.process import HealthServicer, stop_serving
from xucproto.auth.v1 import auth_pb2, auth_pb2_grpc

CALL_SECONDS = 5.0


# --- targets --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "target"), [
    ("127.0.0.1:5001", "127.0.0.1:5001"),
    ("dns:///contacts:50051", "dns:///contacts:50051"),
    ("contacts:50051", "contacts:50051"),  # one name: gRPC's DNS resolver, every record a replica
    ("127.0.0.1:5001,127.0.0.1:5002", "ipv4:127.0.0.1:5001,127.0.0.1:5002"),
    (" 127.0.0.1:5001 , 127.0.0.2:5002 ,", "ipv4:127.0.0.1:5001,127.0.0.2:5002"),
    ("[::1]:5001,[::1]:5002", "ipv6:[::1]:5001,[::1]:5002"),
    ("localhost:5001,127.0.0.2:5002", "ipv4:127.0.0.1:5001,127.0.0.2:5002"),  # names in a list: resolved
])
def test_an_address_setting_becomes_one_target(address: str, target: str) -> None:
    assert grpc_client.channel_target(address) == target


@pytest.mark.parametrize("address", ["", " , ", "127.0.0.1:5001,127.0.0.1", "127.0.0.1:5001,[::1]:5002",
                                     "127.0.0.1:5001,dns:///x:1"])
def test_an_unusable_address_list_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="address"):
        grpc_client.channel_target(address)


def test_the_config_is_the_documented_one() -> None:
    config = grpc_client.service_config()
    assert config["loadBalancingConfig"] == [{"round_robin": {}}]
    assert config["healthCheckConfig"] == {"serviceName": ""}
    assert grpc_client.service_config(grpc_client.TELEPHONY_HEALTH_SERVICE)["healthCheckConfig"] == {
        "serviceName": "xuc.telephony.v1.Telephony"}
    assert grpc_client.service_config("x")["methodConfig"] == config["methodConfig"]
    (method_config,) = config["methodConfig"]
    policy = method_config["retryPolicy"]
    assert policy["retryableStatusCodes"] == ["UNAVAILABLE"]
    # The documented window: the sum of the largest pauses between the attempts.
    pauses, pause = 0.0, float(policy["initialBackoff"].rstrip("s"))
    for _ in range(policy["maxAttempts"] - 1):
        pauses += min(pause, float(policy["maxBackoff"].rstrip("s")))
        pause *= policy["backoffMultiplier"]
    assert pauses == pytest.approx(grpc_client.RETRY_WINDOW_SECONDS)
    json.dumps(config)  # what the channel is given


# --- real servers ---------------------------------------------------------------------------------
@dataclass
class FakeAuth(auth_pb2_grpc.AuthServicer):  # type: ignore[misc]
    """Answers Check with its name; `failing` makes Check and CreateUser answer UNAVAILABLE, as a
    replica going away does for the calls it had."""

    name: str
    failing: bool = False
    calls: list[str] = field(default_factory=list)

    async def Check(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        self.calls.append("Check")
        if self.failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        return auth_pb2.TokenReply(login=self.name)

    async def CreateUser(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        self.calls.append("CreateUser")
        if self.failing:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        return auth_pb2.User(login=request.login)


@dataclass
class Replica:
    auth: FakeAuth
    health: HealthServicer
    server: grpc.aio.Server
    address: str


async def _serve(name: str) -> Replica:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    auth, health = FakeAuth(name), HealthServicer()
    auth_pb2_grpc.add_AuthServicer_to_server(auth, server)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return Replica(auth, health, server, f"127.0.0.1:{port}")


@pytest.fixture
async def replicas() -> AsyncIterator[list[Replica]]:
    started = [await _serve("one"), await _serve("two")]
    yield started
    for replica in started:
        await replica.server.stop(None)


@pytest.fixture
async def auth(replicas: list[Replica]) -> AsyncIterator[Any]:
    async with grpc_client.channel(",".join(replica.address for replica in replicas)) as channel:
        yield auth_pb2_grpc.AuthStub(channel)


async def _who_answers(auth: Any, calls: int) -> list[str]:
    return [(await auth.Check(auth_pb2.CheckRequest(), timeout=CALL_SECONDS)).login for _ in range(calls)]


async def _until(condition: Any, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not await condition():  # noqa: ASYNC110 (polling the channel is the test)
            await asyncio.sleep(0.05)


async def test_calls_are_spread_over_the_replicas(auth: Any) -> None:
    async def both_answer() -> bool:
        return set(await _who_answers(auth, 10)) == {"one", "two"}

    await _until(both_answer)  # round robin, once both connections are up
    answers = await _who_answers(auth, 20)
    assert answers.count("one") == answers.count("two") == 10


async def test_a_replica_reporting_not_serving_gets_no_more_calls(auth: Any, replicas: list[Replica]) -> None:
    await _who_answers(auth, 4)
    await replicas[1].health.enter_graceful_shutdown()  # what a replica does on SIGTERM

    async def only_one() -> bool:
        return set(await _who_answers(auth, 6)) == {"one"}

    await _until(only_one)
    assert set(await _who_answers(auth, 30)) == {"one"}


async def test_a_channel_on_a_service_health_skips_a_replica_reporting_it_not_serving(
        replicas: list[Replica]) -> None:
    # Both servers SERVING as a whole (""), the second NOT_SERVING for the Auth service: what a
    # telephony standby reports for xuc.telephony.v1.Telephony.
    await replicas[0].health.set("xuc.auth.v1.Auth", health_pb2.HealthCheckResponse.SERVING)
    await replicas[1].health.set("xuc.auth.v1.Auth", health_pb2.HealthCheckResponse.NOT_SERVING)
    addresses = ",".join(replica.address for replica in replicas)
    async with grpc_client.channel(addresses, health_service="xuc.auth.v1.Auth") as on_service, \
            grpc_client.channel(addresses) as on_server:
        assert set(await _who_answers(auth_pb2_grpc.AuthStub(on_service), 30)) == {"one"}

        async def both_answer() -> bool:  # the control: on "", both replicas take calls
            return set(await _who_answers(auth_pb2_grpc.AuthStub(on_server), 10)) == {"one", "two"}

        await _until(both_answer)
        await replicas[1].health.set("xuc.auth.v1.Auth", health_pb2.HealthCheckResponse.SERVING)

        async def back_in_rotation() -> bool:
            return set(await _who_answers(auth_pb2_grpc.AuthStub(on_service), 10)) == {"one", "two"}

        await _until(back_in_rotation)


async def test_a_retryable_call_failing_unavailable_is_retried_on_another_replica(
        auth: Any, replicas: list[Replica]) -> None:
    await _who_answers(auth, 4)
    replicas[1].auth.failing = True

    assert set(await _who_answers(auth, 30)) == {"one"}  # no error reached the caller
    assert replicas[1].auth.calls.count("Check") >= 1  # the failing one was tried, and retried past


async def test_a_call_that_is_not_safe_to_repeat_is_not_retried(auth: Any, replicas: list[Replica]) -> None:
    for replica in replicas:
        replica.auth.failing = True

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await auth.CreateUser(auth_pb2.CreateUserRequest(login="x"), timeout=CALL_SECONDS)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert sum(replica.auth.calls.count("CreateUser") for replica in replicas) == 1


async def test_retries_give_up_after_the_window_when_no_replica_answers(auth: Any, replicas: list[Replica]) -> None:
    for replica in replicas:
        replica.auth.failing = True

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await auth.Check(auth_pb2.CheckRequest(), timeout=CALL_SECONDS)
    # ended by the retry window (the last attempt's UNAVAILABLE), not by the deadline (DEADLINE_EXCEEDED)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert sum(replica.auth.calls.count("Check") for replica in replicas) == 5  # maxAttempts


async def test_a_replica_that_dies_under_load_costs_no_error(auth: Any, replicas: list[Replica]) -> None:
    await _who_answers(auth, 4)
    failures: list[BaseException] = []
    answers: list[str] = []

    async def client() -> None:
        for _ in range(60):
            try:
                answers.append((await auth.Check(auth_pb2.CheckRequest(), timeout=CALL_SECONDS)).login)
            except grpc.aio.AioRpcError as error:
                failures.append(error)
            await asyncio.sleep(0.005)

    clients = [asyncio.create_task(client()) for _ in range(8)]
    await asyncio.sleep(0.1)
    # A replica going away as the process frame stops it: NOT_SERVING, a pause for the clients to
    # notice, then new calls refused (UNAVAILABLE: retried on the other one) and the calls in flight
    # given a moment. (Stopped at once, calls that reached it unread are dropped as CANCELLED, which
    # is not retried; a process killed outright gives UNAVAILABLE, which
    # tests/e2e/test_faults_replicas.py covers with real processes.)
    assert replicas[1].health.watchers == 1  # the channel watches its health: the stop waits for it
    await stop_serving(replicas[1].server, replicas[1].health, grace=0.5)
    await asyncio.gather(*clients)

    assert not failures, failures[:3]
    assert len(answers) == 8 * 60
    assert answers[-8:] == ["one"] * 8
