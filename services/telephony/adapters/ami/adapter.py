"""AmiPbx: the Pbx port over the Asterisk Manager Interface (XUC_PBX=ami://user:secret@host:5038).

Commands become AMI actions; AMI events become port events through the pure translator. Choices
an operator's dialplan has to know about:

- **Originate**: `Channel` from `channel_template` (`PJSIP/{line}`) for the source line, or
  `Local/{queue number}@{context}` for a queue call, or `Local/{mobile}@{context}` for a call
  from a user's mobile (the dialplan's route for outside numbers rings it through the trunk);
  `Exten` the destination, `Context`, `Priority 1`, `CallerID "name" <number>` when given,
  `Async true`, one `Variable: k=v` per variable. We also set `ChannelId` (Asterisk 13+): the
  source channel's Uniqueid is then the ActionID-derived id we chose, which is returned at once
  as both unique and linked id (the originated channel is the call's first one) and lets the
  translator know that channel is the source line's. If an OriginateResponse event with the same
  ActionID comes within `originate_wait` seconds, its Uniqueid (and Linkedid, if any) is returned
  instead (an Asterisk that ignores ChannelId).
- **User services** are stored in the Asterisk database for the dialplan to read: family
  `xuc/<line>`, key `dnd` ("1"/"0"), keys `fwd_unc`, `fwd_rna` (no answer), `fwd_busy` (the
  destination, "" when off), e.g. `${DB(xuc/${EXTEN}/fwd_unc)}`.
- **Agents** are queue members: `QueueAdd`/`QueueRemove`/`QueuePause` per queue, with
  `Interface` from `channel_template` for the agent's phone and `MemberName Agent/<number>`.
  "Already there" on login and "Not there" on logout are success (the wanted state holds).
- **Call control** names the line's channel by its Asterisk name, as the translator learnt it
  from the events (an unknown one: CallNotFound): hang up is `Hangup` of that channel; a DTMF key
  is `PlayDTMF` on it with `Receive: true` (Asterisk 16+: the key is taken as received from the
  phone, so it travels to the other party like a key pressed; without it Asterisk would play it to
  the user's own phone). A direct transfer is `Redirect` of the other party's channel (the other
  member of the user's channel's bridge, else the other side of the DialBegin that joined them) to
  the destination in `context`, priority 1; the user's channel, left alone, is hung up by Asterisk.
  An attended transfer is `Atxfer` of the user's channel to the destination in `context` (Asterisk
  holds the other party and dials the destination from the user's channel); completing it hangs
  up the user's channel (Asterisk then puts the other two through), cancelling it plays the
  `atxferabort` feature code (features.conf, `*1` by default: `atxfer_abort`) as DTMF received
  on the user's channel (Asterisk ends the call to the destination and resumes the held one).
  Call data (CTI `setData`) is one `Setvar` per variable on the line's channel; the translator
  then adds them to the call's data, so the later events of every channel of the call carry them.
  Answering
  and holding are NotSupportedByPbx: the AMI has no action that makes a SIP phone go off-hook or
  put its call on hold (both are the phone's own SIP signalling); the user does it on the phone.
- A command the PBX refuses (`Response: Error`) raises PbxUnreachable naming the refusal; a
  header that would carry a line break raises InvalidRequest, and nothing is sent.

Connection: the client reconnects with back-off (0.5 s doubling to 30 s). Each login is
announced as ConnectionChanged(True) and followed by a resynchronisation (ExtensionStateList,
QueueStatus, then Status: line availability, agents and calls still up are reported afresh);
each loss as ConnectionChanged(False). Events reach the sink one at a time, in the PBX's order,
from one dispatcher task: the sink may itself send commands without blocking the socket reader.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from services.telephony.adapters.ami.client import AmiActionError, AmiClient, Backoff
from services.telephony.adapters.ami.frames import Frame, UnsafeHeader
from services.telephony.adapters.ami.translate import AmiTranslator
from services.telephony.domain.errors import (
    CallNotFound,
    InvalidRequest,
    NotSupportedByPbx,
    PbxRefused,
    PbxUnreachable,
    TransferNotFound,
)
from services.telephony.domain.pbx import (
    AgentLine,
    CallIds,
    ConnectionChanged,
    EventSink,
    ForwardKind,
    Originate,
    PbxConnection,
    PbxEvent,
)
from xuc.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_PORT = 5038
FORWARD_KEYS = {ForwardKind.UNCONDITIONAL: "fwd_unc", ForwardKind.NO_ANSWER: "fwd_rna", ForwardKind.BUSY: "fwd_busy"}
RESYNC_LISTS = ("ExtensionStateList", "QueueStatus", "Status")

Headers = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class AmiAddress:
    host: str
    port: int
    username: str
    secret: str = field(repr=False)


def parse_ami_url(url: str) -> AmiAddress:
    """`ami://user:secret@host[:port]` (user and secret may be percent-encoded); ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "ami" or not parts.hostname:
        raise ValueError("the AMI URL must look like ami://user:secret@host:5038")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as error:
        raise ValueError(f"the AMI URL has an invalid port: {error}") from None
    username, secret = unquote(parts.username or ""), unquote(parts.password or "")
    if not username or not secret:
        raise ValueError("the AMI URL needs a user and a secret: ami://user:secret@host:5038")
    if any(c in text for text in (username, secret) for c in "\r\n"):
        raise ValueError("the AMI user and secret may not contain line breaks")
    return AmiAddress(parts.hostname, port, username, secret)


def caller_id(name: str, number: str) -> str:
    name = name.replace('"', "").replace("<", "").replace(">", "").strip()
    return f'"{name}" <{number}>' if name else f"<{number}>"


class AmiPbx:
    def __init__(self, url: str, *, channel_template: str = "PJSIP/{line}", context: str = "default",
                 action_timeout: float = 5.0, connect_timeout: float = 5.0, backoff_initial: float = 0.5,
                 backoff_max: float = 30.0, originate_wait: float = 0.5, ping_interval: float | None = 20.0,
                 atxfer_abort: str = "*1") -> None:
        address = parse_ami_url(url)
        self._channel_template = channel_template
        self._context = context
        self._originate_wait = originate_wait
        self._atxfer_abort = atxfer_abort
        self._transfers: dict[str, tuple[str, str]] = {}  # line -> (unique id, name) of its transferring channel
        self._translator = AmiTranslator()
        self._client = AmiClient(address.host, address.port, address.username, address.secret,
                                 on_event=self._on_frame, on_state=self._on_state, action_timeout=action_timeout,
                                 connect_timeout=connect_timeout, backoff=Backoff(backoff_initial, backoff_max),
                                 ping_interval=ping_interval)
        self._events: asyncio.Queue[PbxEvent] = asyncio.Queue()
        self._originates: dict[str, asyncio.Future[Frame]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._resync: asyncio.Task[None] | None = None

    # -- lifecycle

    async def start(self, on_event: EventSink) -> None:
        if self._dispatcher is not None:
            raise RuntimeError("AmiPbx already started")
        self._dispatcher = asyncio.create_task(self._dispatch(on_event), name="ami-events")
        self._client.start()

    async def close(self) -> None:
        await self._client.close()
        for task in (self._resync, self._dispatcher):
            await cancel_and_wait(task)
        self._resync = self._dispatcher = None

    def connection(self) -> PbxConnection:
        return PbxConnection(kind="ami", connected=self._client.connected, detail=self._client.detail)

    async def set_lines(self, numbers: Collection[str]) -> None:
        self._translator.set_lines(numbers)

    # -- commands

    async def originate(self, call: Originate) -> CallIds:
        action_id = self._client.new_action_id()
        headers = self._originate_headers(call, channel_id=action_id)
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._originates[action_id] = waiter
        try:
            if not (call.from_queue or call.external_source):
                self._translator.expect_channel(action_id, call.source, call.destination, call.variables)
            await self._command("Originate", headers, action_id=action_id)
            return await self._originated_ids(waiter, action_id)
        finally:
            self._originates.pop(action_id, None)

    def _originate_headers(self, call: Originate, channel_id: str) -> dict[str, str | Sequence[str]]:
        # A queue's number and a mobile are no phone of ours: the dialplan reaches them (the
        # queue, or the trunk for an outside number) through a Local channel in `context`.
        channel = (f"Local/{call.source}@{self._context}" if call.from_queue or call.external_source
                   else self._channel_template.format(line=call.source))
        headers: dict[str, str | Sequence[str]] = {
            "Channel": channel, "Exten": call.destination, "Context": self._context, "Priority": "1",
            "Async": "true", "ChannelId": channel_id,
        }
        if call.caller_id_number:
            headers["CallerID"] = caller_id(call.caller_id_name, call.caller_id_number)
        if call.variables:
            headers["Variable"] = [f"{key}={value}" for key, value in call.variables.items()]
        return headers

    async def _originated_ids(self, waiter: asyncio.Future[Frame], channel_id: str) -> CallIds:
        try:
            async with asyncio.timeout(self._originate_wait):
                response = await waiter
        except TimeoutError:
            return CallIds(channel_id, channel_id)
        if response.first("Response").casefold() != "success":
            log.warning("AMI originate failed", extra={"channel": response.first("Channel"),
                                                        "reason": response.first("Reason")})
        unique_id = response.first("Uniqueid") or channel_id
        return CallIds(unique_id, response.first("Linkedid") or unique_id)

    async def set_dnd(self, number: str, enabled: bool) -> None:
        await self._db_put(number, "dnd", "1" if enabled else "0")

    async def set_forward(self, number: str, kind: ForwardKind, enabled: bool, destination: str) -> None:
        await self._db_put(number, FORWARD_KEYS[kind], destination if enabled else "")

    async def _db_put(self, number: str, key: str, value: str) -> None:
        await self._command("DBPut", {"Family": f"xuc/{number}", "Key": key, "Val": value})

    async def agent_login(self, agent: AgentLine) -> None:
        for queue in agent.queue_names:
            await self._command("QueueAdd", {"Queue": queue, **self._member(agent), "Paused": "false"},
                                tolerate="already there")

    async def agent_logout(self, agent: AgentLine) -> None:
        for queue in agent.queue_names:
            await self._command("QueueRemove", {"Queue": queue, "Interface": self._member(agent)["Interface"]},
                                tolerate="not there")

    async def agent_pause(self, agent: AgentLine, paused: bool) -> None:
        for queue in agent.queue_names:
            await self._command("QueuePause", {"Queue": queue, "Interface": self._member(agent)["Interface"],
                                               "Paused": "true" if paused else "false"})

    # -- call control

    async def answer_channel(self, number: str, unique_id: str) -> None:
        raise NotSupportedByPbx("Asterisk cannot answer a SIP phone from the AMI (the phone goes off-hook itself): "
                                "answer on the phone")

    async def hold_channel(self, number: str, unique_id: str, on_hold: bool) -> None:
        raise NotSupportedByPbx("Asterisk cannot put a SIP phone's call on hold or resume it from the AMI (hold is "
                                "the phone's own signalling): use the phone's hold key")

    async def hangup_channel(self, number: str, unique_id: str) -> None:
        await self._command("Hangup", {"Channel": self._channel_name(number, unique_id)})

    async def send_dtmf(self, number: str, unique_id: str, key: str) -> None:
        await self._command("PlayDTMF", {"Channel": self._channel_name(number, unique_id), "Digit": key,
                                         "Receive": "true"})

    async def direct_transfer(self, number: str, unique_id: str, destination: str) -> None:
        self._channel_name(number, unique_id)
        peer = self._translator.peers.of(unique_id)
        if not peer:
            raise CallNotFound(f"The PBX reports no other party on line {number}'s call {unique_id[:40]!r}")
        await self._command("Redirect", {"Channel": peer, "Exten": destination, "Context": self._context,
                                         "Priority": "1"})

    async def attended_transfer(self, number: str, unique_id: str, destination: str) -> None:
        name = self._channel_name(number, unique_id)
        await self._command("Atxfer", {"Channel": name, "Exten": destination, "Context": self._context})
        self._transfers[number] = (unique_id, name)

    async def complete_transfer(self, number: str) -> CallIds:
        unique_id, name = self._transfer_of(number)
        await self._command("Hangup", {"Channel": name})
        self._transfers.pop(number, None)
        return CallIds(unique_id, self._translator.linked_id(unique_id))

    async def cancel_transfer(self, number: str) -> CallIds:
        unique_id, name = self._transfer_of(number)
        for digit in self._atxfer_abort:
            await self._command("PlayDTMF", {"Channel": name, "Digit": digit, "Receive": "true"})
        self._transfers.pop(number, None)
        return CallIds(unique_id, self._translator.linked_id(unique_id))

    async def set_call_data(self, number: str, unique_id: str, variables: Mapping[str, str]) -> None:
        name = self._channel_name(number, unique_id)
        for key, value in variables.items():
            await self._command("Setvar", {"Channel": name, "Variable": key, "Value": value})
        self._translator.add_call_data(unique_id, variables)

    def _transfer_of(self, number: str) -> tuple[str, str]:
        transfer = self._transfers.get(number)
        if transfer is None or self._translator.channel_name(number, transfer[0]) != transfer[1]:
            self._transfers.pop(number, None)  # none, or its channel has ended since
            raise TransferNotFound(f"No attended transfer in progress on line {number}")
        return transfer

    def _channel_name(self, number: str, unique_id: str) -> str:
        name = self._translator.channel_name(number, unique_id)
        if not name:
            raise CallNotFound(f"The PBX reports no channel {unique_id[:40]!r} of line {number}")
        return name

    def _member(self, agent: AgentLine) -> dict[str, str]:
        return {"Interface": self._channel_template.format(line=agent.phone_number),
                "MemberName": f"Agent/{agent.agent_number}"}

    async def _command(self, name: str, headers: Headers, *, action_id: str | None = None,
                       tolerate: str | None = None) -> None:
        try:
            await self._client.send_action(name, headers, action_id=action_id)
        except UnsafeHeader as error:
            raise InvalidRequest(str(error)) from error
        except AmiActionError as error:
            if tolerate is not None and tolerate in error.message.casefold():
                return
            raise PbxRefused(f"the PBX refused {name}: {error.message}") from error

    # -- events

    def _emit(self, events: Sequence[PbxEvent]) -> None:
        for event in events:
            self._events.put_nowait(event)

    def _on_frame(self, frame: Frame) -> None:
        if frame.event == "OriginateResponse":
            waiter = self._originates.get(frame.first("ActionID"))
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
        self._emit(self._translator.translate(frame))

    def _on_state(self, connected: bool, detail: str) -> None:
        if connected:
            self._translator.begin_resync()
        else:
            self._translator.connection_lost()
        self._emit([ConnectionChanged(connected, detail)])
        if connected:
            if self._resync is not None:
                self._resync.cancel()
            self._resync = asyncio.create_task(self._resynchronise(), name="ami-resync")

    async def _resynchronise(self) -> None:
        """Ask for what the PBX knows; the answers are events, translated like any other."""
        for action in RESYNC_LISTS:
            try:
                await self._client.send_list_action(action)
            except PbxUnreachable as error:
                log.warning("AMI resynchronisation stopped: %s", error)
                return  # the connection is gone; the next login resynchronises
            except AmiActionError as error:
                log.warning("AMI resynchronisation: %s refused: %s", action, error.message)
                continue  # e.g. no queues: agents are left as they are
            if action == "QueueStatus":
                self._emit(self._translator.end_agent_resync())

    async def _dispatch(self, sink: EventSink) -> None:
        while True:
            event = await self._events.get()
            try:
                await sink(event)
            except Exception:
                log.exception("PBX event sink failed", extra={"event": type(event).__name__})
