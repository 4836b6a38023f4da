"""Who the client is and whether the 1.0 API answers it (gateway/client_address.py)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from gateway.client_address import ClientPolicy, parse_address, parse_networks
from xuc.runtime.settings import SettingsError


def policy(allowed: str = "", proxies: str = "") -> ClientPolicy:
    return ClientPolicy.from_settings(allowed.split(","), proxies.split(","))


# --- reading addresses ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("192.0.2.1:4711", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("::1", "::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),  # an IPv4 client seen through an IPv6 socket
        ("[::ffff:192.0.2.1]:80", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::1%eth0"),
    ],
)
def test_addresses_are_read_as_peers_and_proxies_write_them(text: str, expected: str) -> None:
    assert parse_address(text) == ipaddress.ip_address(expected)


@pytest.mark.parametrize("text", ["", "unknown", "localhost", "192.0.2", "192.0.2.256", "[2001:db8::1",
                                  "[2001:db8::1]x", "2001:db8::g", "_hidden", "10.0.0.0/8"])
def test_what_is_not_an_address_is_none(text: str) -> None:
    assert parse_address(text) is None


def test_settings_take_addresses_and_networks_of_both_families() -> None:
    assert parse_networks("X", ["192.0.2.10", " 10.0.0.0/8 ", "2001:db8::/32", "::1", "[::2]", "", "  "]) == (
        ipaddress.ip_network("192.0.2.10/32"), ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("2001:db8::/32"), ipaddress.ip_network("::1/128"), ipaddress.ip_network("::2/128"))


def test_a_network_written_with_host_bits_is_its_network() -> None:
    assert parse_networks("X", ["10.1.2.3/8"]) == (ipaddress.ip_network("10.0.0.0/8"),)


@pytest.mark.parametrize("entry", ["xivo.example.com", "10.0.0.0/33", "192.0.2.1:80", "*", "10.0.0.0/8/8"])
def test_an_entry_that_can_never_match_stops_the_gateway_naming_the_variable(entry: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(f"DEPRECATED_API_HOST: '{entry}'")):
        ClientPolicy.from_settings(["192.0.2.1", entry], [])
    with pytest.raises(SettingsError, match="XUC_TRUSTED_PROXIES"):
        ClientPolicy.from_settings([], [entry])


# --- allowed clients ------------------------------------------------------------------------------
def test_nobody_is_allowed_by_default() -> None:
    nobody = ClientPolicy()
    assert not nobody.allows(nobody.client("127.0.0.1"))
    assert not nobody.allows(nobody.client("::1"))


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("192.0.2.10", True),
        ("192.0.2.11", False),
        ("10.200.3.4", True),
        ("11.0.0.1", False),
        ("2001:db8:0:1::7", True),
        ("2001:db9::7", False),
        ("::ffff:10.0.0.1", True),
        ("::1", False),
    ],
)
def test_a_peer_is_allowed_by_address_or_network(peer: str, allowed: bool) -> None:
    clients = policy("192.0.2.10,10.0.0.0/8,2001:db8::/32")
    assert clients.allows(clients.client(peer)) is allowed


def test_no_peer_or_an_unreadable_one_is_never_allowed() -> None:
    everyone = policy("0.0.0.0/0,::/0")
    assert not everyone.allows(everyone.client(None))
    assert not everyone.allows(everyone.client(""))
    assert not everyone.allows(everyone.client("some-unix-socket"))


# --- X-Forwarded-For ------------------------------------------------------------------------------
def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    clients = policy("192.0.2.10", proxies="10.0.0.0/8")
    assert clients.client("172.16.0.1", ["192.0.2.10"]) == ipaddress.ip_address("172.16.0.1")
    assert not clients.allows(clients.client("172.16.0.1", ["192.0.2.10"]))


def test_behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_hop() -> None:
    clients = policy("192.0.2.10", proxies="10.0.0.0/8,2001:db8::/32")

    assert clients.client("10.0.0.1", ["192.0.2.10"]) == ipaddress.ip_address("192.0.2.10")
    # what the client itself wrote (left) is not believed
    assert clients.client("10.0.0.1", ["192.0.2.10, 198.51.100.7"]) == ipaddress.ip_address("198.51.100.7")
    # proxies of ours in the chain are skipped, whichever family
    assert clients.client("10.0.0.1", ["198.51.100.7, 192.0.2.10, 10.0.0.2, 2001:db8::9"]) == \
        ipaddress.ip_address("192.0.2.10")
    # several headers are one list, in order
    assert clients.client("10.0.0.1", ["198.51.100.7", "192.0.2.10,10.0.0.3"]) == ipaddress.ip_address("192.0.2.10")
    # ports and brackets, as some proxies write them
    assert clients.client("10.0.0.1", ["[2001:db9::1]:443"]) == ipaddress.ip_address("2001:db9::1")
    assert clients.allows(clients.client("10.0.0.1", ["192.0.2.10:55000"]))


def test_a_trusted_proxy_without_the_header_is_the_client_itself() -> None:
    clients = policy("10.0.0.1", proxies="10.0.0.0/8")
    assert clients.client("10.0.0.1", []) == ipaddress.ip_address("10.0.0.1")
    assert clients.client("10.0.0.1", [" , "]) == ipaddress.ip_address("10.0.0.1")


def test_a_chain_of_trusted_proxies_only_names_its_first_as_the_client() -> None:
    clients = policy(proxies="10.0.0.0/8")
    assert clients.client("10.0.0.1", ["10.0.0.7, 10.0.0.8"]) == ipaddress.ip_address("10.0.0.7")


def test_an_unreadable_hop_makes_the_client_unknown_and_refused() -> None:
    clients = policy("0.0.0.0/0,::/0", proxies="10.0.0.0/8")
    assert clients.client("10.0.0.1", ["192.0.2.10, unknown"]) is None
    assert not clients.allows(clients.client("10.0.0.1", ["192.0.2.10, unknown"]))
    # an unreadable hop further left than the client does not matter
    assert clients.client("10.0.0.1", ["garbage, 192.0.2.10"]) == ipaddress.ip_address("192.0.2.10")
