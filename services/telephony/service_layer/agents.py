"""Agents and queues: provisioned definitions (stored) and live agent state (in memory, from the
commands given and the PBX's agent events; announced as AgentStateChanged)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from services.telephony.domain.errors import AgentNotFound, QueueNotFound, UserNotFound
from services.telephony.domain.model import Agent, AgentState, AgentStateChanged, Queue, check_agents_and_queues
from services.telephony.domain.pbx import AgentEvent, AgentLine, AgentStatus
from services.telephony.service_layer.dependencies import Dependencies

log = logging.getLogger(__name__)


class AgentService:
    def __init__(self, deps: Dependencies) -> None:
        self._uow = deps.uow
        self._pbx = deps.pbx
        self._publisher = deps.publisher
        self._directory = deps.directory
        self._clock = deps.clock
        self._queues: dict[int, Queue] = {}
        self._states: dict[str, AgentState] = {}  # by agent number

    async def load(self) -> None:
        async with self._uow() as uow:
            agents, queues = await uow.repository.agents(), await uow.repository.queues()
        self._set_definitions(agents, queues)

    def _set_definitions(self, agents: Sequence[Agent], queues: Sequence[Queue]) -> None:
        self._queues = {queue.id: queue for queue in queues}
        previous = self._states
        self._states = {}
        for agent in agents:
            queue_ids = tuple(queue.id for queue in queues if agent.number in queue.agents)
            state = previous.get(agent.number, AgentState(agent))
            self._states[agent.number] = replace(state, agent=agent, queue_ids=queue_ids)

    def queue(self, queue_id: int) -> Queue:
        queue = self._queues.get(queue_id)
        if queue is None:
            raise QueueNotFound(f"No queue {queue_id}")
        return queue

    def agents(self) -> list[AgentState]:
        return sorted(self._states.values(), key=lambda state: state.agent.number)

    def agents_of(self, login: str) -> list[AgentState]:
        """The user's agents (none for a user who is no agent), by number."""
        return [state for state in self.agents() if state.agent.login == login]

    def queues(self) -> list[Queue]:
        return sorted(self._queues.values(), key=lambda queue: queue.id)

    async def put(self, agents: list[Agent], queues: list[Queue],
                  validate_only: bool = False) -> tuple[list[str], list[int]]:
        """Replace every agent and queue (all or nothing); the agent numbers and queue ids removed.
        `validate_only`: check them (InvalidQueues listing every violation) and change nothing."""
        check_agents_and_queues(agents, queues)
        if validate_only:
            return [], []
        async with self._uow() as uow:
            await uow.repository.replace_agents_and_queues(agents, queues)
            await uow.commit()
        removed_agents = sorted(set(self._states) - {agent.number for agent in agents})
        removed_queues = sorted(set(self._queues) - {queue.id for queue in queues})
        self._set_definitions(agents, queues)
        return removed_agents, removed_queues

    async def login(self, agent_number: str, phone_number: str) -> AgentState:
        state = self._states.get(agent_number)
        if state is None:
            raise AgentNotFound(f"No agent {agent_number!r}" if agent_number else "No agent number given")
        if self._directory.by_number(phone_number) is None:
            raise UserNotFound(f"No user has the line {phone_number!r}" if phone_number else "No phone number given")
        if state.status is not AgentStatus.LOGGED_OUT and state.phone_number != phone_number:
            await self._pbx.agent_logout(self._line(state, state.phone_number))
        await self._pbx.agent_login(self._line(state, phone_number))
        return await self._set(replace(state, status=AgentStatus.READY, phone_number=phone_number))

    async def logout(self, phone_number: str) -> AgentState:
        state = self._on_phone(phone_number)
        await self._pbx.agent_logout(self._line(state, phone_number))
        return await self._set(replace(state, status=AgentStatus.LOGGED_OUT, phone_number=""))

    async def toggle_pause(self, phone_number: str) -> AgentState:
        state = self._on_phone(phone_number)
        return await self.set_paused(phone_number, state.status is AgentStatus.READY)

    async def set_paused(self, phone_number: str, pause: bool) -> AgentState:
        """Pause the agent logged in on the line, or make it ready (presence statuses ask for one
        or the other, not a toggle)."""
        state = self._on_phone(phone_number)
        await self._pbx.agent_pause(self._line(state, phone_number), pause)
        return await self._set(replace(state, status=AgentStatus.PAUSED if pause else AgentStatus.READY))

    async def on_agent_event(self, event: AgentEvent) -> None:
        state = self._states.get(event.agent_number)
        if state is None:
            log.info("event for an agent that is not provisioned", extra={"agent": event.agent_number})
            return
        phone = "" if event.status is AgentStatus.LOGGED_OUT else event.phone_number or state.phone_number
        await self._set(replace(state, status=event.status, phone_number=phone))

    def _on_phone(self, phone_number: str) -> AgentState:
        for state in self._states.values():
            if state.status is not AgentStatus.LOGGED_OUT and state.phone_number == phone_number:
                return state
        raise AgentNotFound(f"No agent is logged in on {phone_number!r}" if phone_number
                            else "No phone number given")

    def _line(self, state: AgentState, phone_number: str) -> AgentLine:
        names = [self._queues[queue_id].name for queue_id in state.queue_ids if queue_id in self._queues]
        return AgentLine(state.agent.number, phone_number, names)

    async def _set(self, state: AgentState) -> AgentState:
        if self._states.get(state.agent.number) != state:
            self._states[state.agent.number] = state
            await self._publisher.publish([AgentStateChanged(state, self._clock())])
        return state
