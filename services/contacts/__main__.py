"""Composition root of the contacts service process: `python -m services.contacts`.

No API yet: the process serves the standard health and reflection services only.
"""

from __future__ import annotations

from xuc.runtime.grpc_edge import Authenticator, EdgeInterceptor
from xuc.runtime.process import run, serve_grpc, stop_signal
from xuc.runtime.settings import Settings


async def main(settings: Settings) -> None:
    stopping = stop_signal()
    interceptor = EdgeInterceptor({}, Authenticator(settings.service_token, verifier=None))
    await serve_grpc(settings, "contacts", [], [interceptor], stopping)


if __name__ == "__main__":
    run("contacts", main)
