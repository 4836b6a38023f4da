"""The directory and favorites over the CTI channel, against `xuc up`: users and the caller's own
personal contacts with their live phone status; favorites changed on one socket reach every
socket of the user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.e2e.conftest import Stack
from tests.e2e.cti.conftest import pbx
from tests.support.cti_client import CtiClient

HEADERS = ["Firstname", "Lastname", "Number", "Mobile", "Favorite"]


def rows(result: dict[str, Any]) -> list[tuple[str, list[str], int]]:
    return [(entry["source"], entry["entry"], entry["status"]) for entry in result["entries"]]


def test_a_search_finds_users_and_own_personal_contacts_with_their_status(
        cti_stack: Stack, http: httpx.Client, token_of: Callable[[str], str],
        open_cti: Callable[[str], CtiClient]) -> None:
    for owner, lastname in (("cti.ivan", "Dirmine"), ("cti.judy", "Dirtheirs")):
        created = http.post("/xuc/api/2.0/contact/personal", headers={"X-Auth-Token": token_of(owner)},
                            json={"firstname": "Zed", "lastname": lastname, "number": "1104"})
        assert created.status_code == 201, created.text
    ivan = open_cti("cti.ivan")
    ivan.send("subscribeToPhoneHints", phoneNumbers=["1104"])
    ivan.expect("PhoneHintStatusEvent")
    pbx(cti_stack, "call", "0612121212", "1104")  # dave's line rings
    ivan.expect("PhoneHintStatusEvent", lambda hint: hint["status"] == 8)  # telephony knows it from now on
    ivan.send("directoryLookUp", term="dave")
    result = ivan.expect("DirectoryResult")
    assert result["headers"] == HEADERS
    assert rows(result) == [("internal", ["Dave", "Cti", "1104", "", "false"], 8)]
    ivan.send("searchContacts", term="Zed")  # the personal contacts of ivan, not judy's
    assert rows(ivan.expect("DirectoryResult")) == [("personal", ["Zed", "Dirmine", "1104", "", "false"], 8)]
    pbx(cti_stack, "hangup", "1104")
    ivan.send("directoryLookUp", term="x")
    refused = ivan.expect("Error")
    assert (refused["Error"], refused["command"]) == ("InvalidDirectorySearch", "directoryLookUp")


def test_favorites_changed_on_one_socket_reach_every_socket_and_are_listed(
        open_cti: Callable[[str], CtiClient]) -> None:
    desk, phone = open_cti("cti.mia"), open_cti("cti.mia")
    desk.send("directoryLookUp", term="Grace")
    [grace] = desk.expect("DirectoryResult")["entries"]
    desk.send("addFavorite", contactId=grace["contact_id"], source=grace["source"])
    for socket in (desk, phone):
        assert socket.expect("FavoriteUpdated") == {"action": "Added", "contact_id": grace["contact_id"],
                                                    "source": "internal"}
    phone.send("getFavorites")
    favorites = phone.expect("Favorites")
    assert favorites["headers"] == HEADERS
    assert [(entry["contact_id"], entry["entry"][:3], entry["favorite"]) for entry in favorites["entries"]] == [
        (grace["contact_id"], ["Grace", "Cti", "1107"], True)]
    phone.send("removeFavorite", contactId=grace["contact_id"], source="internal")
    for socket in (desk, phone):
        assert socket.expect("FavoriteUpdated")["action"] == "Removed"
    desk.send("addFavorite", contactId="no-such-id", source="internal")
    assert desk.expect("Error")["Error"] == "ContactNotFound"
    desk.send("addFavorite", contactId=grace["contact_id"], source="elsewhere")
    assert desk.expect("Error")["Error"] == "InvalidFavorite"
