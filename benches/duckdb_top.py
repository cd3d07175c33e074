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
    # The same plan as profcol's top: aggregate by stack first, then the leaf (self) and each
    # distinct function of the stack (total, recursion once).
    return f"""
WITH s AS (
  SELECT stack_id, sum(value) AS v, any_value(frames_function_name) AS frames
  FROM read_parquet('{glob}', hive_partitioning = true)
  WHERE profile_type = '{pt}'
  GROUP BY stack_id
),
leaf AS (SELECT frames[1] AS function, sum(v) AS self_value FROM s GROUP BY 1),
tot AS (
  SELECT function, sum(v) AS total_value
  FROM (SELECT unnest(list_distinct(frames)) AS function, v FROM s)
  GROUP BY 1
)
SELECT tot.function AS function, coalesce(leaf.self_value, 0) AS self_value, tot.total_value
FROM tot LEFT JOIN leaf ON tot.function = leaf.function
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
