"""Who is the client, and may it use the 1.0 API: addresses, networks and trusted proxies.

Pure functions of strings (no request, no I/O), so that every rule is unit-tested on its own.

- `DEPRECATED_API_HOST` and `XUC_TRUSTED_PROXIES` list plain addresses (`192.0.2.10`, `::1`) and
  networks (`10.0.0.0/8`, `2001:db8::/32`; host bits are allowed: `10.1.2.3/8` is `10.0.0.0/8`),
  separated by commas. Anything else (a host name, a typo) stops the gateway at start: an entry
  that can never match would silently lock a client out.
- The client is the TCP peer. `X-Forwarded-For` is read only when the peer is a trusted proxy;
  the client is then the right-most address of the header that is not itself a trusted proxy
  (the addresses to its left were written by the client or by proxies we do not know: anyone
  can forge them). Every hop being a trusted proxy, the left-most one is the client. A hop we
  cannot read as an address makes the client unknown, and an unknown client is never allowed.
- An IPv4 client seen through an IPv6 socket (`::ffff:192.0.2.10`) is the IPv4 address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from xuc.runtime.settings import SettingsError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_HOSTS_VARIABLE = "DEPRECATED_API_HOST"
TRUSTED_PROXIES_VARIABLE = "XUC_TRUSTED_PROXIES"


def _unbracketed(text: str) -> str:
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def parse_address(text: str) -> Address | None:
    """An address as peers and proxies write it, or None if it is none.

    Accepted: `192.0.2.1`, `2001:db8::1`, `[2001:db8::1]`, and with a port, as some proxies add
    it: `192.0.2.1:4711`, `[2001:db8::1]:4711`.
    """
    text = text.strip()
    if text.startswith("["):
        inside, closing, port = text[1:].partition("]")
        if not closing or (port and not port.startswith(":")):
            return None
        text = inside
    elif text.count(":") == 1:  # IPv4 with a port; an IPv6 address has at least two colons
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(variable: str, items: Iterable[str]) -> tuple[Network, ...]:
    """The entries of a setting as networks (an address is a network of one); SettingsError names
    the variable and the entry that is neither."""
    networks = []
    for item in items:
        text = _unbracketed(item.strip())
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise SettingsError(f"{variable}: {item.strip()!r} is not an IP address nor a network "
                                "(e.g. 192.0.2.10, 10.0.0.0/8, 2001:db8::/32)") from None
    return tuple(networks)


def within(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)  # an IPv4 address is in no IPv6 network


@dataclass(frozen=True)
class ClientPolicy:
    """Which clients the 1.0 API answers (`allowed`; none by default) and whose X-Forwarded-For
    is believed (`trusted_proxies`)."""

    allowed: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, allowed: Iterable[str], trusted_proxies: Iterable[str]) -> ClientPolicy:
        return cls(parse_networks(ALLOWED_HOSTS_VARIABLE, allowed),
                   parse_networks(TRUSTED_PROXIES_VARIABLE, trusted_proxies))

    def client(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> Address | None:
        """The client of a request from `peer` carrying these X-Forwarded-For headers (in order);
        None when it cannot be told."""
        peer_address = parse_address(peer) if peer else None
        if peer_address is None or not within(peer_address, self.trusted_proxies):
            return peer_address
        hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None or not within(address, self.trusted_proxies):
                return address
        return parse_address(hops[0]) if hops else peer_address

    def trusts(self, peer: str | None) -> bool:
        """Whether `peer` is one of the trusted proxies (whose X-Forwarded-* headers are believed)."""
        peer_address = parse_address(peer) if peer else None
        return peer_address is not None and within(peer_address, self.trusted_proxies)

    def allows(self, client: Address | None) -> bool:
        return client is not None and within(client, self.allowed)
