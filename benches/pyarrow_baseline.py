#!/usr/bin/env python3
"""Baseline for `cargo bench --bench parquet`: pyarrow writes the exporter's flattened table.

  pyarrow_baseline.py TABLE.arrow OUT.parquet [--runs N]

Reads the Arrow IPC file the bench wrote (the exact rows, columns and types the exporter writes),
then times only `pyarrow.parquet.write_table` with the exporter's settings: zstd level 3, row
groups of 131072 rows, dictionary encoding, statistics and page index, bloom filters on trace_id,
span_id and profile_id (fpp 0.01), the (profile_type, time) sort recorded. Prints JSON: rows,
the best of N runs in seconds, the file size and the pyarrow version.
"""

import argparse
import json
import os
import time

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq


def main():
    p = argparse.ArgumentParser()
    p.add_argument("table")
    p.add_argument("out")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    with pa.memory_map(args.table) as src:
        table = ipc.open_file(src).read_all()
    table = table.combine_chunks()
    rows = table.num_rows
    bloom = {c: {"ndv": 131072, "fpp": 0.01} for c in ["trace_id", "span_id", "profile_id"]}
    sorting = [
        pq.SortingColumn(table.schema.get_field_index("profile_type")),
        pq.SortingColumn(table.schema.get_field_index("time")),
    ]
    best = None
    for _ in range(args.runs):
        start = time.perf_counter()
        pq.write_table(
            table,
            args.out,
            compression="zstd",
            compression_level=3,
            row_group_size=131072,
            use_dictionary=True,
            write_statistics=True,
            write_page_index=True,
            bloom_filter_options=bloom,
            sorting_columns=sorting,
        )
        took = time.perf_counter() - start
        best = took if best is None else min(best, took)
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": best,
                "bytes": os.path.getsize(args.out),
                "pyarrow": pa.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
