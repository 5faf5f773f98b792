"""`python -m campaigns.sandbox`: run the sandbox until SIGTERM/SIGINT (devtools/processes.py
starts it as `sandbox`, for ./dev up and the tests alike)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    from campaigns.sandbox.server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
