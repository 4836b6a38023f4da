"""`xuc cti LOGIN`: the channel as a person sees it, one JSON line per message."""

from __future__ import annotations

import json
import signal
import subprocess

from tests.e2e.conftest import XUC, Stack
from tests.e2e.cti.conftest import PASSWORD
from tests.support.deadlines import EVENT_DEADLINE_SECONDS


def test_xuc_cti_prints_each_message_and_sends_the_given_frames(cti_stack: Stack) -> None:
    command = [str(XUC), "cti", "cti.mia", "--password", PASSWORD,
               "--send", json.dumps({"claz": "web", "command": "getConfig", "objectType": "line"})]
    with subprocess.Popen(command, env=cti_stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        assert process.stdout is not None
        types: list[str] = []
        for line in process.stdout:  # one JSON document per line, as long as the socket is open
            message = json.loads(line)
            types.append(message["msgType"])
            if message["msgType"] == "LineConfig":
                assert message["ctiMessage"]["number"] == "1113"
                break
        process.send_signal(signal.SIGINT)
        process.wait(EVENT_DEADLINE_SECONDS)
    assert types == ["LoggedOn", "UsersStatuses", "UserStatusUpdate", "UserConfigUpdate", "PhoneStatusUpdate",
                     "LineConfig"]


def test_xuc_cti_says_why_it_cannot_log_in(cti_stack: Stack) -> None:
    refused = cti_stack.xuc("cti", "cti.mia", "--password", "wrong", check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("xuc: login refused: ")
    refused = cti_stack.xuc("cti", "cti.mia", "--password", PASSWORD, "--send", "{not json", check=False)
    assert (refused.returncode, refused.stderr) == (1, "xuc: --send '{not json' is not JSON\n")
