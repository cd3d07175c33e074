#!/usr/bin/env python3
"""Sends arbitrary bytes as ProfilesService/Export requests over gRPC and reports the outcomes.

Used by tests/e2e_errors.rs. Each FILE's bytes go out unchanged (identity serializer), so broken
or foreign-layout payloads reach the server exactly as given. With --valid, a known-good request is
sent after every FILE to show the server keeps serving.

Prints one JSON object per line:
  {"file": ..., "code": "OK" | "INVALID_ARGUMENT" | ..., "details": ..., "rejected_profiles": n,
   "error_message": ..., "valid_after": {"code": ..., ...}}
"""

import argparse
import json
import sys

import grpc
from opentelemetry.proto.collector.profiles.v1development import profiles_service_pb2 as svc

EXPORT_METHOD = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"


def send(export, data, compression):
    try:
        resp = export(data, timeout=20, compression=compression)
    except grpc.RpcError as e:
        return {"code": e.code().name, "details": e.details() or ""}
    out = {"code": "OK", "details": ""}
    if resp.HasField("partial_success"):
        out["rejected_profiles"] = resp.partial_success.rejected_profiles
        out["error_message"] = resp.partial_success.error_message
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="host:port of the OTLP/gRPC receiver")
    ap.add_argument("--valid", help="a valid request to send after each file")
    ap.add_argument("--gzip", action="store_true", help="send with grpc-encoding: gzip")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    channel = grpc.insecure_channel(
        args.target,
        options=[("grpc.max_send_message_length", 256 << 20), ("grpc.max_receive_message_length", 16 << 20)],
    )
    grpc.channel_ready_future(channel).result(timeout=15)
    export = channel.unary_unary(
        EXPORT_METHOD,
        request_serializer=lambda b: b,
        response_deserializer=svc.ExportProfilesServiceResponse.FromString,
    )
    compression = grpc.Compression.Gzip if args.gzip else grpc.Compression.NoCompression
    valid = open(args.valid, "rb").read() if args.valid else None
    for path in args.files:
        with open(path, "rb") as f:
            data = f.read()
        result = {"file": path, **send(export, data, compression)}
        if valid is not None:
            result["valid_after"] = send(export, valid, grpc.Compression.NoCompression)
        print(json.dumps(result), flush=True)
    channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
