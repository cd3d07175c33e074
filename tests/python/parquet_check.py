#!/usr/bin/env python3
"""Reads what profcol's parquet exporter wrote with readers profcol did not write: pyarrow,
DuckDB and DataFusion (its Python bindings). Prints one JSON object on stdout.

  parquet_check.py read-local DIR
      Reads DIR/profiles (hive partitioned) with pyarrow.dataset, with DuckDB
      read_parquet('DIR/profiles/**/*.parquet', hive_partitioning=true) and with a DataFusion
      listing table partitioned by service_name, date and hour.
  parquet_check.py read-s3 --endpoint URL --bucket B --prefix P
      pyarrow reads s3://B/P/profiles through its own S3 filesystem, DataFusion through its
      object_store S3 client; boto3 downloads the objects and DuckDB reads the copies.
  parquet_check.py create-bucket --endpoint URL --bucket B
  parquet_check.py list-s3 --endpoint URL --bucket B [--prefix P]

For each reader: the row count, every column's type (every value of every column is decoded;
DataFusion's output is checked and summed with pyarrow.compute), and per-stack totals as [service_name, profile_type, folded stack (root;...;leaf), value], where a
frame's label is its function name, else `mapping+0xADDR`, else `0xADDR`.
"""

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict

CREDS = dict(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")


def label(name, mapping, addr):
    if name:
        return name
    if mapping:
        return "%s+0x%x" % (mapping, addr)
    return "0x%x" % addr


def pyarrow_summary(dataset):
    return table_summary(dataset.to_table())


def datafusion_summary(register):
    """`register(ctx)` registers table `t`; DataFusion reads every column, pyarrow sums."""
    from datafusion import SessionContext

    ctx = SessionContext()
    register(ctx)
    table = ctx.sql("SELECT * FROM t").to_arrow_table()
    out = table_summary(table)
    rows, total = ctx.sql("SELECT count(*), sum(value) FROM t").to_arrow_table().to_pylist()[0].values()
    assert rows == out["rows"] and total == sum(r[3] for r in out["totals"]), (rows, total)
    return out


PARTITION_COLS = ["service_name", "date", "hour"]


def table_summary(table):
    import pyarrow as pa

    columns = {}
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        columns[name] = str(col.type)
        # Every value of every column: full validation, dictionaries decoded.
        col.validate(full=True)
        if pa.types.is_dictionary(col.type):
            col.dictionary_decode().validate(full=True)
        elif pa.types.is_list(col.type) and pa.types.is_dictionary(col.type.value_type):
            col.values.dictionary_decode().validate(full=True)
    # Python objects for the first rows of every column (nanosecond timestamps as integers:
    # Python's datetime holds microseconds only).
    head = table.slice(0, 500)
    for name in head.column_names:
        col = head.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        elif pa.types.is_list(col.type) and pa.types.is_timestamp(col.type.value_type):
            col = col.cast(pa.list_(pa.int64()))
        col.to_pylist()
    # Per-stack totals: sum per (service, profile type, stack id), then each stack's labels from
    # its first row.
    table = table.append_column("row", pa.array(range(table.num_rows), pa.int64()))
    i = table.schema.get_field_index("profile_type")
    table = table.set_column(i, "profile_type", table.column(i).cast(pa.string()))
    first = table.group_by("stack_id").aggregate([("row", "min")])
    frames = table.take(first.column("row_min")).select(
        ["stack_id", "frames_function_name", "frames_mapping_file", "frames_address"]
    ).to_pylist()
    folded = {}
    for f in frames:
        labels = [
            label(n, m, a)
            for n, m, a in zip(f["frames_function_name"], f["frames_mapping_file"], f["frames_address"])
        ]
        folded[f["stack_id"]] = ";".join(reversed(labels))
    sums = table.group_by(["service_name", "profile_type", "stack_id"]).aggregate([("value", "sum")])
    totals = defaultdict(int)
    for r in sums.to_pylist():
        totals[(str(r["service_name"]), r["profile_type"], folded[r["stack_id"]])] += r["value_sum"]
    return {
        "rows": table.num_rows,
        "columns": {k: v for k, v in columns.items()},
        "totals": sorted([list(k) + [v] for k, v in totals.items()]),
    }


DUCK_TOTALS = """
SELECT service_name::VARCHAR, profile_type,
       array_to_string(list_reverse([
         CASE WHEN frames_function_name[i + 1] <> '' THEN frames_function_name[i + 1]
              WHEN frames_mapping_file[i + 1] <> ''
                THEN frames_mapping_file[i + 1] || '+0x' || lower(hex(frames_address[i + 1]))
              ELSE '0x' || lower(hex(frames_address[i + 1])) END
         FOR i IN range(len(frames_function_name))]), ';') AS folded,
       sum(value)::BIGINT
FROM t GROUP BY ALL ORDER BY ALL
"""


def duckdb_summary(glob):
    import duckdb

    con = duckdb.connect()
    quoted = "'" + glob.replace("'", "''") + "'"
    con.execute(
        "CREATE VIEW t AS SELECT * FROM read_parquet(%s, hive_partitioning = true, hive_types_autocast = false)"
        % quoted
    )
    columns = {d[0]: str(d[1]) for d in con.execute("SELECT * FROM t LIMIT 0").description}
    # Every value of every column: each row rendered as text.
    rows, chars = con.execute("SELECT count(*), sum(length(CAST(t AS VARCHAR))) FROM t").fetchone()
    assert rows == 0 or chars > 0
    con.execute("SELECT * FROM t LIMIT 500").fetchall()  # Python objects for the first rows
    totals = [list(r) for r in con.execute(DUCK_TOTALS).fetchall()]
    return {"rows": rows, "columns": columns, "totals": totals}


def read_local(args):
    import pyarrow.dataset as ds

    base = os.path.join(args.dir, "profiles")
    out = {
        "pyarrow": pyarrow_summary(ds.dataset(base, format="parquet", partitioning="hive")),
        "duckdb": duckdb_summary(os.path.join(base, "**", "*.parquet")),
        "datafusion": datafusion_summary(lambda ctx: register_datafusion(ctx, base + "/")),
    }
    json.dump(out, sys.stdout)


def register_datafusion(ctx, url):
    import pyarrow as pa

    ctx.register_parquet(
        "t",
        url,
        table_partition_cols=[(c, pa.string()) for c in PARTITION_COLS],
        file_extension=".parquet",
    )


def s3_client(endpoint):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, **CREDS)


def list_keys(endpoint, bucket, prefix=""):
    c = s3_client(endpoint)
    keys = []
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(keys)


def read_s3(args):
    import pyarrow.dataset as ds
    from pyarrow import fs

    scheme, host = args.endpoint.split("://", 1)
    s3 = fs.S3FileSystem(
        access_key="test",
        secret_key="test",
        region="us-east-1",
        endpoint_override=host,
        scheme=scheme,
    )
    base = "%s/%s/profiles" % (args.bucket, args.prefix.strip("/"))
    out = {"pyarrow": pyarrow_summary(ds.dataset(base, format="parquet", partitioning="hive", filesystem=s3))}

    def register(ctx):
        from datafusion.object_store import AmazonS3

        store = AmazonS3(
            bucket_name=args.bucket,
            region="us-east-1",
            access_key_id="test",
            secret_access_key="test",
            endpoint=args.endpoint,
            allow_http=True,
        )
        # The URL is scheme + host, the host defaulting to the bucket name.
        ctx.register_object_store("s3://", store, None)
        register_datafusion(ctx, "s3://%s/%s/profiles/" % (args.bucket, args.prefix.strip("/")))

    out["datafusion"] = datafusion_summary(register)
    prefix = args.prefix.strip("/") + "/profiles/"
    keys = list_keys(args.endpoint, args.bucket, prefix)
    c = s3_client(args.endpoint)
    with tempfile.TemporaryDirectory() as tmp:
        for k in keys:
            dest = os.path.join(tmp, k[len(prefix):])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            c.download_file(args.bucket, k, dest)
        out["duckdb"] = duckdb_summary(os.path.join(tmp, "**", "*.parquet"))
    out["keys"] = keys
    json.dump(out, sys.stdout)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("read-local")
    a.add_argument("dir")
    for name in ["read-s3", "create-bucket", "list-s3"]:
        s = sub.add_parser(name)
        s.add_argument("--endpoint", required=True)
        s.add_argument("--bucket", required=True)
        s.add_argument("--prefix", default="")
    args = p.parse_args()
    if args.cmd == "read-local":
        read_local(args)
    elif args.cmd == "read-s3":
        read_s3(args)
    elif args.cmd == "create-bucket":
        s3_client(args.endpoint).create_bucket(Bucket=args.bucket)
        json.dump({"created": args.bucket}, sys.stdout)
    elif args.cmd == "list-s3":
        json.dump({"keys": list_keys(args.endpoint, args.bucket, args.prefix)}, sys.stdout)


if __name__ == "__main__":
    main()
