#!/usr/bin/env python3
"""Sends one raw ExportProfilesServiceRequest to profcol's OTLP receiver over TLS with independent
clients: grpcio (secure channel) and urllib (https). Used by tests/e2e_tls.rs.

  tls_send.py --grpc HOST:PORT --https URL --request FILE --ca CA.pem [--cert C --key K]
              [--plain-http URL]

Prints one JSON object: for each attempt, "ok" or the error text.
"""

import argparse
import json
import ssl
import urllib.error
import urllib.request

import grpc

EXPORT_METHOD = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def send_grpc(target, body, ca, cert, key):
    creds = grpc.ssl_channel_credentials(
        root_certificates=read(ca),
        private_key=read(key) if key else None,
        certificate_chain=read(cert) if cert else None,
    )
    with grpc.secure_channel(target, creds) as ch:
        call = ch.unary_unary(EXPORT_METHOD, request_serializer=None, response_deserializer=None)
        try:
            call(body, timeout=20)
            return "ok"
        except grpc.RpcError as e:
            return "error: %s %s" % (e.code(), e.details())


def send_http(url, body, ctx, content_type="application/x-protobuf"):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=20, context=ctx) as r:
            return "ok" if 200 <= r.status < 300 else "error: status %d" % r.status
    except urllib.error.HTTPError as e:
        return "error: status %d %s" % (e.code, e.read()[:300].decode("utf-8", "replace"))
    except Exception as e:  # TLS and connection failures
        return "error: %s" % e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--https", required=True)
    ap.add_argument("--request", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--plain-http")
    ap.add_argument(
        "--post", nargs=3, action="append", default=[], metavar=("URL", "FILE", "CONTENT_TYPE"),
        help="also POST FILE to URL over the same TLS context",
    )
    a = ap.parse_args()
    body = read(a.request)
    ctx = ssl.create_default_context(cafile=a.ca)
    if a.cert:
        ctx.load_cert_chain(a.cert, a.key)
    out = {
        "grpc": send_grpc(a.grpc, body, a.ca, a.cert, a.key),
        "https": send_http(a.https, body, ctx),
    }
    if a.plain_http:
        out["plain_http"] = send_http(a.plain_http, body, None)
    out["posts"] = [send_http(url, read(f), ctx, ct) for url, f, ct in a.post]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
