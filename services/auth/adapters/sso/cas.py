"""CAS single sign-on: validate a service ticket against the configured CAS server.

The browser brings back a service ticket ("ST-...") from the CAS login page; the server, not the
browser, says whom it names. We ask it with the CAS 2.0/3.0 validation call
(`GET {server}/p3/serviceValidate?service=...&ticket=...`, or `/serviceValidate`) and read the
`cas:user` of its XML answer. That answer crosses the network, so it is parsed with defusedxml: a
DTD or an entity declaration (the "billion laughs" and external-entity attacks) is refused, never
expanded. Every way the call can go wrong ends in one of the documented CAS errors, so the gateway
answers `{error, message}` and never an unhandled error for a misbehaving CAS server.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp
import defusedxml.ElementTree as SafeElementTree  # type: ignore[import-untyped, unused-ignore]
from defusedxml import DefusedXmlException  # type: ignore[import-untyped, unused-ignore]

from services.auth.domain.errors import (
    CAS_FAILURES,
    CasServerInvalidParameter,
    CasServerInvalidResponse,
    CasServerRefused,
)
from services.auth.domain.sso import CasCredentials, SsoCredentials, SsoIdentity

CAS_NAMESPACE = "http://www.yale.edu/tp/cas"
_SERVICE_RESPONSE = f"{{{CAS_NAMESPACE}}}serviceResponse"
_SUCCESS = f"{{{CAS_NAMESPACE}}}authenticationSuccess"
_FAILURE = f"{{{CAS_NAMESPACE}}}authenticationFailure"
_USER = f"{{{CAS_NAMESPACE}}}user"

# CAS 3.0 (/p3/...) and CAS 2.0 validation paths, relative to the server URL (which may have a prefix).
VALIDATE_PATHS: dict[str, str] = {"p3": "/p3/serviceValidate", "2": "/serviceValidate"}
MAX_MESSAGE_CHARS = 200  # of the CAS server's failure message, passed on to the client
# A validation answer is a few hundred bytes (a few KiB with attributes): anything much larger is
# not one, and is not worth reading into memory.
MAX_RESPONSE_BYTES = 256 * 1024
_TICKET_PLACEHOLDER = "<ticket>"


def parse_service_response(xml: bytes, *, ticket: str = "") -> str:
    """The `cas:user` of a CAS validation answer, or the documented error it amounts to.

    Pure: no I/O, so every shape of answer is tested without a server. A failure document becomes
    CasServerRefused with the reason mapped from its code (CAS_FAILURES) and the server's message
    (the `ticket`, if given, replaced by a placeholder so it reaches no log; then trimmed). Not XML,
    a DTD or entity declaration, a document of another shape, or an unknown failure code become
    CasServerInvalidResponse: the server did not say anything we can rely on.
    """
    try:
        root = SafeElementTree.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise CasServerInvalidResponse(
            f"The CAS server's answer declares a DTD or entities, which are refused ({type(error).__name__})"
        ) from None
    except (ElementTree.ParseError, ValueError, UnicodeError):
        raise CasServerInvalidResponse("The CAS server's answer is not XML") from None
    if root.tag != _SERVICE_RESPONSE:
        raise CasServerInvalidResponse(
            f"The CAS server's answer is not a cas:serviceResponse (root {_printable(root.tag)})"
        )
    outcomes = [child for child in root if child.tag in (_SUCCESS, _FAILURE)]
    if len(outcomes) != 1:
        raise CasServerInvalidResponse("The CAS server's answer has neither exactly one authenticationSuccess "
                                       "nor one authenticationFailure")
    outcome = outcomes[0]
    if outcome.tag == _FAILURE:
        code = (outcome.get("code") or "").strip()
        message = " ".join("".join(outcome.itertext()).split())
        if ticket:
            message = message.replace(ticket, _TICKET_PLACEHOLDER)
        if code not in CAS_FAILURES:
            raise CasServerInvalidResponse(f"The CAS server refused with an unknown code {_printable(code)}")
        raise CasServerRefused(CAS_FAILURES[code], message[:MAX_MESSAGE_CHARS] or f"The CAS server refused: {code}")
    user = outcome.find(_USER)  # attributes (cas:attributes) and a proxy-granting ticket are ignored
    name = "" if user is None else (user.text or "").strip()
    if not name:
        raise CasServerInvalidResponse("The CAS server's authenticationSuccess names no cas:user")
    return name


async def _read_bounded(response: aiohttp.ClientResponse) -> bytes:
    """The body, read up to MAX_RESPONSE_BYTES; CasServerInvalidResponse past that."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise CasServerInvalidResponse(f"The CAS server's answer is larger than {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _printable(value: str, limit: int = 60) -> str:
    """A value from the server, quoted and cut, for a message."""
    return repr(value[:limit])


class CasProvider:
    """The SsoProvider for CAS: one HTTP session to the CAS server, opened on first use.

    `server_url` is XUC_CAS_SERVER_URL and may carry a path prefix (https://sso.example.org/cas);
    `protocol` "p3" validates with CAS 3.0 (/p3/serviceValidate), "2" with CAS 2.0
    (/serviceValidate); `login_of` maps the CAS user to our login (by default, the user itself).
    Each validation is bounded by `timeout_seconds`, so a stalled CAS server cannot hold a login
    request (and its gRPC deadline) forever.
    """

    def __init__(
        self,
        server_url: str,
        *,
        timeout_seconds: float = 5.0,
        protocol: str = "p3",
        login_of: Callable[[str], str] = str.strip,
    ) -> None:
        parts = urlsplit(server_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"the CAS server URL must be http(s)://host[:port][/prefix], not {server_url!r}")
        if protocol not in VALIDATE_PATHS:
            raise ValueError(f"the CAS protocol must be one of {sorted(VALIDATE_PATHS)}, not {protocol!r}")
        if timeout_seconds <= 0:
            raise ValueError("the CAS timeout must be positive")
        self.validate_url = server_url.rstrip("/") + VALIDATE_PATHS[protocol]
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._timeout_seconds = timeout_seconds
        self._login_of = login_of
        self._session: aiohttp.ClientSession | None = None

    async def authenticate(self, credentials: SsoCredentials) -> SsoIdentity:
        """Who the CAS server says the ticket names; a documented CAS error otherwise."""
        if not isinstance(credentials, CasCredentials):
            raise TypeError(f"CasProvider validates CAS credentials only, not {type(credentials).__name__}")
        service, ticket = credentials.service.strip(), credentials.ticket.strip()
        if not service or not ticket:
            missing = " and ".join(name for name, value in (("service", service), ("ticket", ticket)) if not value)
            raise CasServerInvalidParameter(f"The {missing} parameter is required")
        body = await self._validate(service, ticket)
        user = parse_service_response(body, ticket=ticket)
        return SsoIdentity(login=self._login_of(user), subject=user)

    async def _validate(self, service: str, ticket: str) -> bytes:
        """The CAS server's answer body; CasServerInvalidResponse if there is no usable one. The
        messages name the failure, never the ticket."""
        if self._session is None:  # no await before the assignment: concurrent first calls share it
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            # Redirects are not followed: a validation URL that redirects is misconfigured, and
            # following it would send the ticket somewhere that was not configured.
            async with self._session.get(self.validate_url, params={"service": service, "ticket": ticket},
                                         allow_redirects=False,
                                         headers={"Accept": "application/xml, text/xml"}) as response:
                if response.status >= 500:
                    raise CasServerInvalidResponse(f"The CAS server answered HTTP {response.status}")
                if 300 <= response.status < 400:
                    raise CasServerInvalidResponse(
                        f"The CAS server answered a redirect (HTTP {response.status}): set XUC_CAS_SERVER_URL "
                        "to the address that answers the validation itself")
                # 2xx and 4xx: CAS servers send their failure documents with either.
                body = await _read_bounded(response)
        except TimeoutError:
            raise CasServerInvalidResponse(
                f"The CAS server did not answer within {self._timeout_seconds:g} s") from None
        except aiohttp.ClientError as error:
            raise CasServerInvalidResponse(f"The CAS server is unreachable ({type(error).__name__})") from None
        return body

    async def close(self) -> None:
        """Close the HTTP session (and its pooled connections), if one was opened."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
