#!/usr/bin/env python3
"""Builds OTLP profiles requests with the official generated classes and sends them to profcol.

Used by tests/e2e_otlp.rs. Only the `opentelemetry-proto` generated classes, grpcio,
`google.protobuf.json_format` and the standard library (urllib for HTTP) are used, so what profcol
receives is exactly what an independent OTLP client produces.

Every request sent is also written, protobuf-serialized, to --out (one file per request) so the
Rust test can compute the totals it expects to arrive downstream. The last line on stdout is a JSON
summary; the exit code is 0 only when every send got a full success.
"""

import argparse
import gzip
import json
import os
import random
import sys
import urllib.error
import urllib.request

import grpc
from google.protobuf import json_format
from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc
from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2_grpc as svc_grpc
from opentelemetry.proto.common.v1 import common_pb2 as common
from opentelemetry.proto.profiles.v1development import profiles_pb2 as pb
from opentelemetry.proto.resource.v1 import resource_pb2 as resource_pb

HTTP_PATH = "/v1development/profiles"
EXPORT_METHOD = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"


class Dictionary:
    """Interns entries into a ProfilesDictionary; every table starts with its zero entry."""

    def __init__(self):
        self.d = pb.ProfilesDictionary()
        self._strings = {}
        self._functions = {}
        self._mappings = {}
        self._locations = {}
        self._stacks = {}
        self._attributes = {}
        self._links = {}
        self.string("")
        self.d.mapping_table.add()
        self.d.location_table.add()
        self.d.function_table.add()
        self.d.link_table.add()
        self.d.attribute_table.add()
        self.d.stack_table.add()

    def string(self, s):
        if s not in self._strings:
            self._strings[s] = len(self.d.string_table)
            self.d.string_table.append(s)
        return self._strings[s]

    def function(self, name, filename):
        key = (name, filename)
        if key not in self._functions:
            self._functions[key] = len(self.d.function_table)
            self.d.function_table.add(
                name_strindex=self.string(name),
                system_name_strindex=self.string(name.replace(".", "_")),
                filename_strindex=self.string(filename),
                start_line=10,
            )
        return self._functions[key]

    def mapping(self, filename, start, limit):
        key = (filename, start, limit)
        if key not in self._mappings:
            self._mappings[key] = len(self.d.mapping_table)
            self.d.mapping_table.add(memory_start=start, memory_limit=limit, filename_strindex=self.string(filename))
        return self._mappings[key]

    def location(self, frames, mapping_index, address):
        """frames: [(function name, file, line)], inlined callees first, the caller last."""
        key = (tuple(frames), mapping_index, address)
        if key not in self._locations:
            self._locations[key] = len(self.d.location_table)
            loc = self.d.location_table.add(mapping_index=mapping_index, address=address)
            for name, filename, line in frames:
                loc.lines.add(function_index=self.function(name, filename), line=line, column=3)
        return self._locations[key]

    def stack(self, location_indices):
        key = tuple(location_indices)
        if key not in self._stacks:
            self._stacks[key] = len(self.d.stack_table)
            self.d.stack_table.add(location_indices=location_indices)
        return self._stacks[key]

    def attribute(self, key, value, unit=""):
        k = (key, repr(value), unit)
        if k not in self._attributes:
            self._attributes[k] = len(self.d.attribute_table)
            entry = self.d.attribute_table.add(key_strindex=self.string(key), unit_strindex=self.string(unit) if unit else 0)
            set_any(entry.value, value)
        return self._attributes[k]

    def link(self, trace_id, span_id):
        key = (trace_id, span_id)
        if key not in self._links:
            self._links[key] = len(self.d.link_table)
            self.d.link_table.add(trace_id=trace_id, span_id=span_id)
        return self._links[key]


def set_any(any_value, value):
    if isinstance(value, bool):
        any_value.bool_value = value
    elif isinstance(value, int):
        any_value.int_value = value
    elif isinstance(value, float):
        any_value.double_value = value
    else:
        any_value.string_value = value


FUNCTIONS = [
    ("main", "main.go"),
    ("runtime.main", "proc.go"),
    ("net/http.(*Server).Serve", "server.go"),
    ("net/http.(*conn).serve", "server.go"),
    ("app.(*Handler).ServeHTTP", "handler.go"),
    ("app.parseRequest", "parse.go"),
    ("encoding/json.Unmarshal", "decode.go"),
    ("encoding/json.(*decodeState).object", "decode.go"),
    ("app.queryDB", "db.go"),
    ("database/sql.(*DB).QueryContext", "sql.go"),
    ("compress/flate.(*compressor).deflate", "deflate.go"),
    ("runtime.mallocgc", "malloc.go"),
    ("runtime.gcBgMarkWorker", "mgc.go"),
    ("syscall.Syscall", "syscall_linux.go"),
    ("app.render", "render.go"),
    ("strings.Builder.WriteString", "builder.go"),
]

SERVICES = [
    {"service.name": "checkout", "host.name": "node-a", "deployment.environment.name": "prod", "process.pid": 4242},
    {"service.name": "checkout", "host.name": "node-b", "deployment.environment.name": "prod", "process.pid": 17},
    {"service.name": "frontend", "host.name": "node-a", "service.version": "1.4.2", "telemetry.sdk.language": "go"},
    {"service.name": "billing", "host.name": "node-c", "k8s.namespace.name": "payments", "cpu.shares": 1.5},
]


def build_request(rng, seed, base_time):
    """One request: a shared dictionary, 2-3 resources, three profiles of different shapes each."""
    dic = Dictionary()
    req = svc.ExportProfilesServiceRequest()
    mapping = dic.mapping("/usr/bin/app", 0x400000, 0x800000)
    lib = dic.mapping("/lib/x86_64-linux-gnu/libc.so.6", 0x7F0000000000, 0x7F0000200000)

    # A pool of stacks (leaf first), some with an inlined frame, some ending in native libc code.
    stacks = []
    for _ in range(12):
        depth = rng.randint(2, 7)
        names = [FUNCTIONS[0], FUNCTIONS[1]] + [rng.choice(FUNCTIONS[2:]) for _ in range(depth - 2)]
        locs = []
        for i, (name, filename) in enumerate(names):
            frames = [(name, filename, 20 + i)]
            if rng.random() < 0.2:
                inl = rng.choice(FUNCTIONS[2:])
                frames.insert(0, (inl[0], inl[1], 99))
            locs.append(dic.location(frames, mapping, 0x401000 + 16 * dic.function(name, filename)))
        if rng.random() < 0.3:
            # An unsymbolized native frame: no lines, only mapping + address.
            locs.append(dic.location([], lib, 0x7F0000001000 + rng.randint(0, 255) * 8))
        stacks.append(dic.stack(list(reversed(locs))))

    thread_attrs = [dic.attribute("thread.name", n) for n in ("main", "worker-1", "worker-2")]
    span_attr = dic.attribute("span.kind", "server")
    links = [dic.link(rng.randbytes(16), rng.randbytes(8)) for _ in range(3)]
    cpu_type = pb.ValueType(type_strindex=dic.string("cpu"), unit_strindex=dic.string("nanoseconds"))
    samples_type = pb.ValueType(type_strindex=dic.string("samples"), unit_strindex=dic.string("count"))
    alloc_type = pb.ValueType(type_strindex=dic.string("alloc_space"), unit_strindex=dic.string("bytes"))
    profile_attr = dic.attribute("profile.frame.type", "go")

    duration = 10_000_000_000
    services = rng.sample(SERVICES, rng.randint(2, 3))
    for ri, attrs in enumerate(services):
        rp = req.resource_profiles.add()
        by_reference = ri == 0 and seed % 2 == 0
        for key, value in attrs.items():
            kv = rp.resource.attributes.add()
            if by_reference and isinstance(value, str):
                # v1.10 reference-encoded resource attributes (resolved by the receiver).
                kv.key_strindex = dic.string(key)
                kv.value.string_value_strindex = dic.string(value)
            else:
                kv.key = key
                set_any(kv.value, value)
        rp.schema_url = "https://opentelemetry.io/schemas/1.30.0"
        sp = rp.scope_profiles.add()
        sp.scope.name = "e2e-python-sender"
        sp.scope.version = "1.0"

        # values only: one aggregated value per sample.
        cpu = sp.profiles.add(
            sample_type=cpu_type,
            time_unix_nano=base_time,
            duration_nano=duration,
            period_type=cpu_type,
            period=10_000_000,
            profile_id=rng.randbytes(15) + b"\x01",
            attribute_indices=[profile_attr],
        )
        for st in rng.sample(stacks, 6):
            s = cpu.samples.add(stack_index=st, values=[rng.randint(1, 50) * 10_000_000])
            if rng.random() < 0.5:
                s.attribute_indices.append(rng.choice(thread_attrs))
            if rng.random() < 0.4:
                s.link_index = rng.choice(links)
                s.attribute_indices.append(span_attr)

        # timestamps only: each timestamp counts as 1.
        wall = sp.profiles.add(sample_type=samples_type, time_unix_nano=base_time, duration_nano=duration, period_type=cpu_type, period=50_000_000)
        for st in rng.sample(stacks, 5):
            n = rng.randint(1, 6)
            ts = sorted(base_time + rng.randrange(duration) for _ in range(n))
            s = wall.samples.add(stack_index=st, timestamps_unix_nano=ts)
            if rng.random() < 0.5:
                s.link_index = rng.choice(links)

        # values and timestamps of equal length.
        alloc = sp.profiles.add(sample_type=alloc_type, time_unix_nano=base_time, duration_nano=duration)
        for st in rng.sample(stacks, 3):
            n = rng.randint(1, 4)
            alloc.samples.add(
                stack_index=st,
                values=[rng.randint(1, 4096) for _ in range(n)],
                timestamps_unix_nano=sorted(base_time + rng.randrange(duration) for _ in range(n)),
                attribute_indices=[rng.choice(thread_attrs)],
            )
    req.dictionary.CopyFrom(dic.d)
    return req


def sample_count(req):
    return sum(len(p.samples) for rp in req.resource_profiles for sp in rp.scope_profiles for p in sp.profiles)


def check_response(resp, what):
    if resp.HasField("partial_success"):
        ps = resp.partial_success
        if ps.rejected_profiles != 0 or ps.error_message:
            raise RuntimeError(f"{what}: partial success: rejected {ps.rejected_profiles}: {ps.error_message}")


def post(url, body, content_type, encoding=None):
    headers = {"Content-Type": content_type, "User-Agent": "profcol-e2e-python"}
    if encoding:
        headers["Content-Encoding"] = encoding
    r = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(r, timeout=20) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"POST {url} ({content_type}) answered {e.code}: {e.read()!r}") from e


def send_http(base, req_or_bytes, how):
    url = base.rstrip("/") + HTTP_PATH
    if how == "http-json":
        body = json_format.MessageToJson(req_or_bytes).encode()
        status, ctype, data = post(url, body, "application/json")
        if status != 200 or not ctype.startswith("application/json"):
            raise RuntimeError(f"JSON POST answered {status} {ctype}")
        resp = json_format.Parse(data, svc.ExportProfilesServiceResponse(), ignore_unknown_fields=True)
    else:
        body = req_or_bytes if isinstance(req_or_bytes, bytes) else req_or_bytes.SerializeToString()
        encoding = None
        if how == "http-proto-gzip":
            body = gzip.compress(body)
            encoding = "gzip"
        status, ctype, data = post(url, body, "application/x-protobuf", encoding)
        if status != 200 or not ctype.startswith("application/x-protobuf"):
            raise RuntimeError(f"protobuf POST answered {status} {ctype}")
        resp = svc.ExportProfilesServiceResponse.FromString(data)
    check_response(resp, how)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grpc", required=True, help="host:port of the OTLP/gRPC receiver")
    ap.add_argument("--http", required=True, help="base URL of the OTLP/HTTP receiver")
    ap.add_argument("--ebpf", required=True, help="raw ExportProfilesServiceRequest captured from the eBPF profiler")
    ap.add_argument("--out", required=True, help="directory for the serialized requests")
    ap.add_argument("--seed", type=int, default=20250101)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    base_time = 1_760_000_000_000_000_000

    # (transport, request): generated requests over every transport and encoding.
    plan = []
    for i, how in enumerate(["grpc", "grpc-gzip", "http-proto", "http-proto-gzip", "http-json", "http-json", "grpc"]):
        plan.append((how, build_request(rng, i, base_time + i * 10_000_000_000)))
    ebpf_raw = open(args.ebpf, "rb").read()
    ebpf = svc.ExportProfilesServiceRequest.FromString(ebpf_raw)
    plan.append(("grpc-raw", ebpf_raw))
    plan.append(("http-proto", ebpf_raw))
    plan.append(("http-json", ebpf))

    channel = grpc.insecure_channel(args.grpc)
    grpc.channel_ready_future(channel).result(timeout=15)
    stub = svc_grpc.ProfilesServiceStub(channel)
    raw_export = channel.unary_unary(
        EXPORT_METHOD,
        request_serializer=lambda b: b,
        response_deserializer=svc.ExportProfilesServiceResponse.FromString,
    )

    counts = {}
    total_samples = 0
    for n, (how, req) in enumerate(plan):
        if how == "grpc":
            check_response(stub.Export(req, timeout=20), how)
        elif how == "grpc-gzip":
            check_response(stub.Export(req, timeout=20, compression=grpc.Compression.Gzip), how)
        elif how == "grpc-raw":
            check_response(raw_export(req, timeout=20), how)
        else:
            send_http(args.http, req, how)
        if isinstance(req, bytes):
            data = req
            req = svc.ExportProfilesServiceRequest.FromString(data)
        else:
            data = req.SerializeToString()
        with open(os.path.join(args.out, f"{n:02d}-{how}.pb"), "wb") as f:
            f.write(data)
        counts[how] = counts.get(how, 0) + 1
        total_samples += sample_count(req)
    channel.close()
    print(json.dumps({"requests": len(plan), "samples": total_samples, "by_transport": counts}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - report any failure as a non-zero exit
        print(f"send_profiles.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
