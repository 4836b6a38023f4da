"""Composition root of the contacts service process: `python -m services.contacts`."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from pathlib import Path

from services.contacts.adapters.auth_users import AuthUsers
from services.contacts.adapters.cache_feed import NatsCacheFeed
from services.contacts.adapters.call_centre import TelephonyCallCentre
from services.contacts.adapters.contact_events import contact_event_message
from services.contacts.adapters.contact_repository import SqlContactsUnitOfWork
from services.contacts.adapters.favorites_store import SqlFavorites
from services.contacts.adapters.phone_statuses import TelephonyPhoneStatuses
from services.contacts.adapters.qualification_events import qualification_event_message
from services.contacts.adapters.qualification_repository import SqlQualificationsUnitOfWork
from services.contacts.entrypoints.directory_api import DIRECTORY_POLICY, DIRECTORY_SERVICE, DirectoryApi
from services.contacts.entrypoints.personal_contacts_api import (
    PERSONAL_CONTACTS_POLICY,
    PERSONAL_CONTACTS_SERVICE,
    PersonalContactsApi,
)
from services.contacts.entrypoints.qualifications_api import (
    QUALIFICATIONS_POLICY,
    QUALIFICATIONS_SERVICE,
    QualificationsApi,
)
from services.contacts.service_layer.directory import DirectoryService
from services.contacts.service_layer.personal_contacts import PersonalContactsService
from services.contacts.service_layer.qualifications import QualificationsService
from services.contacts.service_layer.users import Users, load_and_follow
from xuc import subjects
from xuc.runtime import bootstrap, grpc_client
from xuc.runtime.grpc_edge import Authenticator, EdgeInterceptor
from xuc.runtime.process import GrpcService, run, serve_grpc, stop_signal
from xuc.runtime.settings import Settings, SettingsError
from xuc.tasks import cancel_and_wait
from xucproto.contacts.v1 import contacts_pb2_grpc

MIGRATIONS = Path(__file__).parent / "adapters" / "migrations"

log = logging.getLogger("services.contacts")


async def main(settings: Settings) -> None:
    if not settings.auth_address:
        raise SettingsError("XUC_AUTH_ADDRESS is required (host:port of the auth service)")
    stopping = stop_signal()
    async with AsyncExitStack() as stack:
        engine = await bootstrap.open_database(stack, settings, MIGRATIONS, "contacts_alembic_version")
        events = await bootstrap.connect_events(stack, settings, "contacts", [subjects.contacts_stream()])
        auth = await bootstrap.connect_auth(stack, settings, events.connection)

        # Without a telephony address (a deployment without it), every number is "not a line" and
        # qualification answers are refused (their queue and agent cannot be checked). With several
        # instances (failover), calls go to the one whose Telephony is SERVING: not a standby.
        telephony_channel = (grpc_client.channel(settings.telephony_address,
                                                 health_service=grpc_client.TELEPHONY_HEALTH_SERVICE)
                             if settings.telephony_address else None)
        if telephony_channel is not None:
            stack.push_async_callback(telephony_channel.close)

        contact_events = events.publisher(contact_event_message)
        phone_statuses = TelephonyPhoneStatuses(telephony_channel, settings.service_token)
        personal = PersonalContactsService(
            lambda: SqlContactsUnitOfWork(engine),
            contact_events,
            phone_statuses,
            max_import_bytes=settings.max_import_bytes,
            import_lease_seconds=settings.contacts_import_lease_seconds,
            cache_max_age=settings.contacts_cache_ttl_seconds,
        )
        log.info("contacts instance", extra={"instance_id": personal.instance_id})
        # Other processes may serve this database: their writes evict our cache through the events.
        cache_feed = NatsCacheFeed(events.connection)
        await cache_feed.subscribe(personal.forget_cached, personal.forget_all_cached)
        personal.use_cache_feed(cache_feed)
        await personal.discard_unfinished_imports()
        stack.push_async_callback(cancel_and_wait, asyncio.create_task(personal.run_maintenance()))
        qualifications = QualificationsService(
            lambda: SqlQualificationsUnitOfWork(engine),
            events.publisher(qualification_event_message),
            TelephonyCallCentre(telephony_channel, settings.service_token) if telephony_channel is not None else None,
        )
        # The directory's users: auth's, read at start and followed through its events.
        users, user_source = Users(), AuthUsers(auth.stub, grpc_client.service_metadata(settings.service_token),
                                                events.connection)
        stack.push_async_callback(user_source.close)
        await load_and_follow(users, user_source)
        directory = DirectoryService(users, user_source, personal, SqlFavorites(engine), phone_statuses,
                                     contact_events)
        personal_api, qualifications_api = PersonalContactsApi(personal), QualificationsApi(qualifications)
        interceptor = EdgeInterceptor(
            {**PERSONAL_CONTACTS_POLICY, **QUALIFICATIONS_POLICY, **DIRECTORY_POLICY},
            Authenticator(settings.service_token, auth.keys.verifier),
        )
        await serve_grpc(
            settings,
            "contacts",
            [
                GrpcService(PERSONAL_CONTACTS_SERVICE, lambda server: contacts_pb2_grpc
                            .add_PersonalContactsServicer_to_server(personal_api, server)),
                GrpcService(QUALIFICATIONS_SERVICE, lambda server: contacts_pb2_grpc
                            .add_QualificationsServicer_to_server(qualifications_api, server)),
                GrpcService(DIRECTORY_SERVICE, lambda server: contacts_pb2_grpc
                            .add_DirectoryServicer_to_server(DirectoryApi(directory), server)),
            ],
            [interceptor],
            stopping,
        )


if __name__ == "__main__":
    run("contacts", main)
