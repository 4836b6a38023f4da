"""A local OpenID Connect issuer in its own process, for benchmarks/sso.py:
`python -m benchmarks.oidc_issuer LOGIN [--lifetime SECONDS] [--prefix /realms/xuc]`.

Serves discovery + JWKS (tests.support.oidc_issuer.LocalIssuer) on 127.0.0.1, a free port, and
prints one JSON line: {"url": <issuer>, "token": <RS256 access token for LOGIN>, "kid", "pid"}.
The token is Keycloak-like (`aud: account`, `azp: xuc`, `preferred_username: LOGIN`), valid
`--lifetime` seconds. Serves until its stdin closes or it is terminated (SIGTERM/SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading

from tests.support.oidc_issuer import LocalIssuer


async def serve(login: str, lifetime: float, prefix: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with LocalIssuer(prefix=prefix) as issuer:
        token = issuer.sign(issuer.claims(lifetime=lifetime, preferred_username=login, azp="xuc"))
        print(json.dumps({"url": issuer.url, "token": token, "kid": issuer.kid("rsa"), "pid": os.getpid()}),
              flush=True)
        # stdin closing (the parent went away) stops us too: read it in a daemon thread.
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)),
                         daemon=True).start()
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("login", help="preferred_username of the signed access token")
    parser.add_argument("--lifetime", type=float, default=86_400.0, help="token lifetime, seconds")
    parser.add_argument("--prefix", default="/realms/xuc", help="path of the issuer (Keycloak-like)")
    options = parser.parse_args()
    asyncio.run(serve(options.login, options.lifetime, options.prefix))


if __name__ == "__main__":
    main()
