#!/usr/bin/env python3
"""`profcol top` as DuckDB SQL over the same Parquet tree, for benches/query.rs.

Usage: duckdb_top.py BASE [--runs N] [--limit N] [--type PROFILE_TYPE]

Prints one JSON object: the run times in seconds and the top rows, so the Rust bench can report
the ratio and check both engines agree. Needs the `duckdb` package (tests/python/requirements.txt).
"""

import argparse
import json
import os
import time

import duckdb


def top_sql(base: str, profile_type: str, limit: int) -> str:
    glob = os.path.join(base, "profiles", "**", "*.parquet").replace("'", "''")
    pt = profile_type.replace("'", "''")
    # The same plan as profcol's top: aggregate by stack first, then one pass over each stack's
    # distinct functions: total (recursion once) and self (the function that is the leaf).
    return f"""
WITH s AS (
  SELECT stack_id, sum(value) AS v, any_value(frames_function_name) AS frames
  FROM read_parquet('{glob}', hive_partitioning = true)
  WHERE profile_type = '{pt}'
  GROUP BY stack_id
),
u AS (SELECT unnest(list_distinct(frames)) AS function, frames[1] AS leaf, v FROM s)
SELECT function, sum(CASE WHEN function = leaf THEN v ELSE 0 END) AS self_value,
       sum(v) AS total_value
FROM u
GROUP BY 1
ORDER BY self_value DESC, total_value DESC, function
LIMIT {limit}
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--type", default="cpu:nanoseconds:cpu:nanoseconds")
    a = ap.parse_args()
    con = duckdb.connect()
    sql = top_sql(a.base, a.type, a.limit)
    rows = con.execute(sql).fetchall()  # warm-up (file metadata, page cache)
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        rows = con.execute(sql).fetchall()
        times.append(time.perf_counter() - t0)
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(
        json.dumps(
            {
                "engine": "duckdb " + duckdb.__version__,
                "threads": threads,
                "times": times,
                "rows": [[r[0], int(r[1]), int(r[2])] for r in rows],
                "sql": sql,
            }
        )
    )


if __name__ == "__main__":
    main()
