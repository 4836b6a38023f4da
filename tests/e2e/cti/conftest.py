"""One `xuc up` for the CTI channel's tests (the simulator PBX), with phone users, an agent and a
queue provisioned, shared by the folder's modules. Each test uses users of its own, so that the
tests do not see each other's events (see PHONE_USERS); the agent's tests leave it logged out."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.support.cti_client import CtiClient

# login -> line. Password: PASSWORD.
PHONE_USERS = {
    "cti.alice": "1101", "cti.bob": "1102", "cti.carol": "1103", "cti.dave": "1104", "cti.erin": "1105",
    "cti.frank": "1106", "cti.grace": "1107", "cti.heidi": "1108", "cti.ivan": "1109", "cti.judy": "1110",
    "cti.kim": "1111", "cti.leo": "1112", "cti.mia": "1113", "cti.nina": "1114", "cti.omar": "1115",
    "cti.pia": "1116", "cti.quinn": "1117", "cti.rita": "1118", "cti.sam": "1119", "cti.rosa": "1120",
}
# login -> mobile number, for the users that have one (dialFromMobile).
MOBILES = {"cti.sam": "0633445566"}
PASSWORD = "cti-secret"
AGENT, AGENT_USER, QUEUE_ID = "2101", "cti.carol", 7


@pytest.fixture(scope="session")  # one per xdist worker, shared by the folder's modules
def cti_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # The 1.0 API answers the tests' address: a DND set there must reach the sockets too.
    stack = Stack(tmp_path_factory.mktemp("cti"), extra_env={"DEPRECATED_API_HOST": "127.0.0.1"}).start()
    try:
        path = stack.write_file("cti.yaml", {
            "users": [{"login": login, "password": PASSWORD, "firstname": login.split(".")[1].capitalize(),
                       "lastname": "Cti", "line": line, **({"mobile": MOBILES[login]} if login in MOBILES else {})}
                      for login, line in PHONE_USERS.items()],
            "agents": [{"number": AGENT, "user": AGENT_USER}],
            "queues": [{"id": QUEUE_ID, "name": "sales", "number": "3100", "agents": [AGENT]}],
        })
        stack.xuc("provision", str(path))
        yield stack
    except BaseException:
        stack.kill()
        raise
    stack.stop()


@pytest.fixture(scope="session")
def http(cti_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cti_stack.url, timeout=15.0) as client:
        yield client


@pytest.fixture
def token_of(http: httpx.Client) -> Callable[[str], str]:
    def login(user: str) -> str:
        response = http.post("/xuc/api/2.0/auth/login", json={"login": user, "password": PASSWORD})
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token
    return login


def pbx(stack: Stack, *args: str) -> str:
    """`xuc pbx ...`: the simulator driven as a phone would (answer, hold, hang up, external calls)."""
    return stack.xuc("pbx", *args).stdout


@pytest.fixture
def open_cti(cti_stack: Stack, token_of: Callable[[str], str]) -> Iterator[Callable[[str], CtiClient]]:
    """open_cti(login): a logged-on socket of that user, its LoggedOn read; closed after the test."""
    opened: list[CtiClient] = []

    def open_as(user: str) -> CtiClient:
        client = CtiClient.open(cti_stack.url, token_of(user))
        opened.append(client)
        assert client.read()["msgType"] == "LoggedOn"
        return client

    try:
        yield open_as
    finally:
        for client in opened:
            client.connection.close()
