#!/usr/bin/env python3
"""Runs the published pyroscope-io SDK (Push API, pyroscope-rs core) against profcol.

Used by tests/e2e_pyroscope_sdks.rs. Configures pyroscope with the given server address,
application name and tags, burns CPU in a function with a distinctive name for a few seconds, then
shuts the agent down (which uploads the last profile). Prints one JSON line when done.

    pyroscope_sdk_push.py SERVER_URL APP_NAME SECONDS
"""

import json
import sys
import time

import pyroscope


def profcol_hot_loop(deadline):
    """The workload the test looks for by name."""
    x = 0
    while time.time() < deadline:
        for i in range(10000):
            x += i * i
    return x


def main():
    server, app, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    pyroscope.configure(
        application_name=app,
        server_address=server,
        tags={"env": "e2e", "team": "profcol"},
        upload_interval=1,
        enable_logging=True,
    )
    profcol_hot_loop(time.time() + seconds)
    ok = pyroscope.shutdown()
    print(json.dumps({"shutdown": bool(ok), "version": version()}), flush=True)
    return 0 if ok else 1


def version():
    try:
        from importlib.metadata import version as v

        return v("pyroscope-io")
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
