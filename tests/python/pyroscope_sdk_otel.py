#!/usr/bin/env python3
"""Runs pyroscope-io with pyroscope-otel's PyroscopeSpanProcessor and the OpenTelemetry SDK.

Used by tests/e2e_pyroscope_sdks.rs. A root span wraps a CPU workload; the span processor tags the
profiling samples taken meanwhile with the span's id (pprof label `span_id`), which profcol turns
into an OTLP Link. Prints one JSON line with the root span's span_id, trace_id and its
`pyroscope.profile.id` attribute.

    pyroscope_sdk_otel.py SERVER_URL APP_NAME SECONDS
"""

import json
import sys
import time

import pyroscope
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from pyroscope.otel import PyroscopeSpanProcessor


def profcol_traced_work(deadline):
    """The workload the test looks for by name."""
    x = 0
    while time.time() < deadline:
        for i in range(10000):
            x += i * i
    return x


def main():
    server, app, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    pyroscope.configure(application_name=app, server_address=server, upload_interval=1)
    provider = TracerProvider()
    provider.add_span_processor(PyroscopeSpanProcessor())
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("profcol-e2e")
    with tracer.start_as_current_span("profcol-root") as span:
        ctx = span.get_span_context()
        profile_id = span.attributes.get("pyroscope.profile.id")
        profcol_traced_work(time.time() + seconds)
    ok = pyroscope.shutdown()
    provider.shutdown()
    print(
        json.dumps(
            {
                "shutdown": bool(ok),
                "span_id": format(ctx.span_id, "016x"),
                "trace_id": format(ctx.trace_id, "032x"),
                "profile_id_attribute": profile_id,
            }
        ),
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
