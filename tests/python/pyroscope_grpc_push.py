#!/usr/bin/env python3
"""Sends serialized push.v1.PushRequest messages to Pyroscope's PusherService/Push over gRPC.

Used by tests/e2e_pyroscope_sdks.rs. grpcio's generic unary_unary with identity serializers: each
FILE's bytes go out unchanged, so what profcol receives is what an independent gRPC client frames.

Prints one JSON object per FILE: {"file": ..., "code": "OK" | "INVALID_ARGUMENT" | ..., "details": ...,
"response_len": n}
"""

import argparse
import json
import sys

import grpc

PUSH_METHOD = "/push.v1.PusherService/Push"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="host:port of the pyroscope receiver")
    ap.add_argument("--gzip", action="store_true", help="send with grpc-encoding: gzip")
    ap.add_argument("--header", action="append", default=[], help="metadata key=value")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    channel = grpc.insecure_channel(args.target)
    grpc.channel_ready_future(channel).result(timeout=15)
    push = channel.unary_unary(
        PUSH_METHOD,
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    compression = grpc.Compression.Gzip if args.gzip else grpc.Compression.NoCompression
    metadata = [tuple(h.split("=", 1)) for h in args.header]
    for path in args.files:
        with open(path, "rb") as f:
            data = f.read()
        try:
            resp = push(data, timeout=20, compression=compression, metadata=metadata)
            out = {"code": "OK", "details": "", "response_len": len(resp)}
        except grpc.RpcError as e:
            out = {"code": e.code().name, "details": e.details() or ""}
        print(json.dumps({"file": path, **out}), flush=True)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
