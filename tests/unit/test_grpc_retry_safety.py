"""Retry safety comes from the contracts: every RPC says in its proto whether a repeat is safe
(`option idempotency_level`), or is one of the few known to act twice when repeated, and the
channels' retry policy follows exactly what the protos say."""

from __future__ import annotations

import pytest
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor
from google.protobuf.descriptor_pb2 import MethodOptions

from xuc.runtime import grpc_client
from xucproto.auth.v1 import auth_pb2
from xucproto.contacts.v1 import contacts_pb2
from xucproto.telephony.v1 import telephony_pb2

FILES: tuple[FileDescriptor, ...] = (auth_pb2.DESCRIPTOR, contacts_pb2.DESCRIPTOR, telephony_pb2.DESCRIPTOR)

# Declared nothing on purpose: a repeat would act twice or answer differently.
DELIBERATELY_NOT_IDEMPOTENT = {
    "xuc.auth.v1.Auth": {"SsoLogin",  # CAS tickets and Kerberos tokens are single-use
                         "CreateUser", "DeleteUser"},  # a repeat answers "already exists" / "not found"
    "xuc.contacts.v1.PersonalContacts": {"DeleteContact", "DeleteAllContacts",  # a repeat answers differently
                                         "ImportContacts"},  # a repeat adds the file's contacts again
    "xuc.contacts.v1.Qualifications": {"CreateAnswer"},  # a repeat records a second answer
    # a repeat acts on the PBX again (another call, another pause toggle, every status published again)
    "xuc.telephony.v1.Telephony": {"Dial", "DialByUsername", "DialFromQueue", "Handshake", "AgentLogin",
                                   "AgentLogout", "TogglePause",
                                   # call control: a repeat acts on the next current call, or toggles back
                                   "Answer", "Hold", "Hangup", "SendDtmf", "DirectTransfer", "AttendedTransfer",
                                   "CompleteTransfer", "CancelTransfer", "SetCallData", "DialFromMobile"},
    "xuc.telephony.v1.Simulator": {"PlaceCall", "Answer", "Hold", "Resume", "Hangup"},
}


def methods() -> list[MethodDescriptor]:
    return [method for file in FILES for service in file.services_by_name.values() for method in service.methods]


def declares_a_level(method: MethodDescriptor) -> bool:
    return method.GetOptions().HasField("idempotency_level")


@pytest.mark.parametrize("method", methods(), ids=lambda method: method.full_name)
def test_every_rpc_declares_its_retry_safety_or_is_known_not_to_have_any(method: MethodDescriptor) -> None:
    deliberate = method.name in DELIBERATELY_NOT_IDEMPOTENT.get(method.containing_service.full_name, set())
    if deliberate:
        assert not declares_a_level(method), f"{method.full_name} is listed as not idempotent"
    else:
        assert declares_a_level(method), (
            f"{method.full_name}: add `option idempotency_level` to its proto, or list it here as not idempotent")
        assert method.GetOptions().idempotency_level != MethodOptions.IDEMPOTENCY_UNKNOWN


def test_the_not_idempotent_list_names_only_existing_rpcs() -> None:
    existing = {(method.containing_service.full_name, method.name) for method in methods()}
    for service, names in DELIBERATELY_NOT_IDEMPOTENT.items():
        assert {(service, name) for name in names} <= existing


def test_the_retry_policy_follows_the_descriptors() -> None:
    (method_config,) = grpc_client.service_config()["methodConfig"]
    retried = {(name["service"], name["method"]) for name in method_config["name"]}
    safe = {(method.containing_service.full_name, method.name) for method in methods() if declares_a_level(method)}
    assert retried == safe
    assert ("xuc.auth.v1.Auth", "CreateUser") not in retried
    assert ("xuc.contacts.v1.PersonalContacts", "CreateContact") in retried  # keyed by its idempotency key
    assert ("xuc.auth.v1.Auth", "GetUser") in retried

