"""The directory gRPC API: protobuf in, use case, protobuf out. No rule lives here but whose
directory a call is about:

- a user's token: the token's user; an `owner_login` naming another user is Forbidden (a user
  reads and changes their own directory only);
- the service token (the gateway's CTI channel, any internal caller): the user `owner_login`
  names, resolved by the use case (UnknownUser when there is none).
"""

from __future__ import annotations

from typing import TypeAlias

import grpc

from services.contacts.domain.contacts import Owner
from services.contacts.domain.directory import DirectoryResult
from services.contacts.service_layer.directory import DirectoryService
from xuc.errors import Forbidden
from xuc.runtime.grpc_edge import Access, current_caller
from xucproto.contacts.v1 import contacts_pb2, contacts_pb2_grpc

DIRECTORY_SERVICE: str = contacts_pb2.DESCRIPTOR.services_by_name["Directory"].full_name

# Who may call what (deny by default: a method missing here is refused).
DIRECTORY_POLICY: dict[str, Access] = {
    f"/{DIRECTORY_SERVICE}/SearchDirectory": Access.USER_OR_SERVICE,
    f"/{DIRECTORY_SERVICE}/ListFavorites": Access.USER_OR_SERVICE,
    f"/{DIRECTORY_SERVICE}/AddFavorite": Access.USER_OR_SERVICE,
    f"/{DIRECTORY_SERVICE}/RemoveFavorite": Access.USER_OR_SERVICE,
}

Context: TypeAlias = grpc.aio.ServicerContext


def _entries(result: DirectoryResult) -> contacts_pb2.DirectoryEntries:
    return contacts_pb2.DirectoryEntries(
        entries=[contacts_pb2.DirectoryEntry(
            source=entry.source, contact_id=entry.contact_id, firstname=entry.firstname, lastname=entry.lastname,
            number=entry.number, mobile=entry.mobile, favorite=entry.favorite, status=entry.status,
            username=entry.username,
        ) for entry in result.entries],
        truncated=result.truncated,
    )


class DirectoryApi(contacts_pb2_grpc.DirectoryServicer):
    def __init__(self, service: DirectoryService) -> None:
        self._service = service

    async def _owner(self, owner_login: str) -> Owner:
        claims = current_caller().claims
        if claims is None:  # the service token: the request names the owner
            return await self._service.owner_named(owner_login)
        if owner_login and owner_login != claims.login:
            raise Forbidden("A user's token reads and changes that user's own directory only")
        return Owner(user_id=claims.user_id, login=claims.login)

    async def SearchDirectory(
        self, request: contacts_pb2.SearchDirectoryRequest, context: Context
    ) -> contacts_pb2.DirectoryEntries:
        owner = await self._owner(request.owner_login)
        return _entries(await self._service.search(owner, request.term))

    async def ListFavorites(
        self, request: contacts_pb2.ListFavoritesRequest, context: Context
    ) -> contacts_pb2.DirectoryEntries:
        return _entries(await self._service.list_favorites(await self._owner(request.owner_login)))

    async def AddFavorite(self, request: contacts_pb2.FavoriteRequest, context: Context) -> contacts_pb2.FavoriteReply:
        owner = await self._owner(request.owner_login)
        return contacts_pb2.FavoriteReply(changed=await self._service.add_favorite(owner, request.source,
                                                                                   request.contact_id))

    async def RemoveFavorite(
        self, request: contacts_pb2.FavoriteRequest, context: Context
    ) -> contacts_pb2.FavoriteReply:
        owner = await self._owner(request.owner_login)
        return contacts_pb2.FavoriteReply(changed=await self._service.remove_favorite(owner, request.source,
                                                                                      request.contact_id))
