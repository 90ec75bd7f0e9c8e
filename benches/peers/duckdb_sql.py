"""Peer 2: DuckDB runs evalpipe's own SQL files over evalpipe's own ingest Parquet.

This isolates the query engine: same inputs (`<run>/ingest/*.parquet` and the reference tables
written by `cargo run -p evalpipe-transform --example reference_tables -- DIR`), same SQL
(`queries/staging/*.sql` then `queries/*.sql`), same order of work as evalpipe's transform (a
query runs once every table its header's `reads:` names exists; staging first; file-name order
otherwise), and each result written as the transform writes it: Parquet, and CSV too for the
output tables (the staging tables have no CSV in evalpipe's run: nobody reads 160M long rows as
text). Only the engine differs, so `compare.py` can demand the same rows in the same order.

A query file that is a template (minijinja, looping over the study's characteristics; see
queries/README.md) runs as the SQL evalpipe rendered from it, which evalpipe's run writes beside
the table (`--rendered RUN/tables`, `<table>.sql`): DuckDB runs the same text DataFusion ran.

The .sql files are never edited. Where DataFusion accepts syntax DuckDB does not, a textual shim
below rewrites the text in memory before DuckDB sees it; every shim is listed in SHIMS with why.

Usage:
    python duckdb_sql.py --ingest RUN/ingest --reference REFDIR --queries queries --out OUTDIR
        --rendered RUN/tables [--threads N] [--timings FILE]
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path

import duckdb

# The ingest datasets the queries read (evalpipe_transform::INPUT_TABLES).
INPUT_TABLES = ["participants", "participant_answers", "claims"]

# Header keys, as crates/transform/src/header.rs knows them: a `--` line with another key ends
# the previous field; a `--` line without one continues it (long `reads:` lists wrap).
HEADER_KEYS = ["table", "produces", "grain", "reads", "base (N)", "checks", "joins",
               "materialized"]

# Textual shims: (name, pattern, replacement, why). Applied to every query's text, in order;
# each one is counted per query so the log says where it was needed. Keep them minimal.
SHIMS = [
    (
        "date_as_int",
        # DataFusion casts a Date32 to an integer as its days since 1970-01-01; DuckDB has no
        # DATE -> INTEGER cast. Subtracting the epoch gives the same day count in DuckDB.
        re.compile(r"cast\(((?:\"\w+\"|[\w.]+)) as int\)", re.IGNORECASE),
        r"(\1 - DATE '1970-01-01')",
        "DuckDB cannot cast DATE to INTEGER; date - DATE '1970-01-01' is the same day count",
    ),
]


def parse_header(sql):
    """The query file's header fields, as evalpipe's QueryHeader::parse reads them."""
    fields = {}
    last = None
    for line in sql.splitlines():
        stripped = line.lstrip()
        if not stripped.startswith("--"):
            break
        text = stripped[2:].strip()
        key = None
        if ":" in text:
            k, v = text.split(":", 1)
            if k.strip() in HEADER_KEYS:
                key = k.strip()
                fields[key] = v.strip()
                last = key
        if key is None and last is not None and text:
            fields[last] += " " + text
    reads = [r.strip() for r in fields.get("reads", "").split(",") if r.strip()]
    view = fields.get("materialized", "table").startswith("view")
    return fields.get("table"), reads, view


def discover(queries_dir):
    """(path, kind) of every query: staging/*.sql then *.sql, each sorted by file name."""
    staging = sorted((queries_dir / "staging").glob("*.sql"))
    outputs = sorted(queries_dir.glob("*.sql"))
    return [(p, "staging") for p in staging] + [(p, "output") for p in outputs]


def shim(sql, used):
    """Applies SHIMS to one query's text, counting each use in `used`."""
    for name, pattern, replacement, _why in SHIMS:
        sql, n = pattern.subn(replacement, sql)
        if n:
            used[name] = used.get(name, 0) + n
    return sql


def sql_path(path):
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ingest", required=True, type=Path, help="a run's ingest/ folder")
    ap.add_argument("--reference", required=True, type=Path,
                    help="the reference tables as Parquet (examples/reference_tables.rs)")
    ap.add_argument("--queries", required=True, type=Path, help="the queries/ folder")
    ap.add_argument("--out", required=True, type=Path, help="folder for <table>.parquet|csv")
    ap.add_argument("--rendered", required=True, type=Path,
                    help="an evalpipe run's tables/ folder: a template's SQL as it ran there")
    ap.add_argument("--threads", type=int, default=None,
                    help="DuckDB threads (default: DuckDB's own, all cores)")
    ap.add_argument("--timings", type=Path, help="write per-query seconds as JSON here")
    args = ap.parse_args()

    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(database=":memory:")
    # Past its memory limit DuckDB spills to a temporary folder, by default `.tmp` under the
    # working directory (the repository): kept beside the outputs instead.
    con.execute(f"set temp_directory = {sql_path(args.out / '.duckdb_tmp')}")
    if args.threads:
        con.execute(f"set threads = {int(args.threads)}")
    # Rows keep the order the query's `order by` gave them when written out (DuckDB's default,
    # stated here because the comparison depends on it).
    con.execute("set preserve_insertion_order = true")

    # Inputs are views over the Parquet files, as evalpipe registers them: read, not loaded.
    registered = set()
    for name in INPUT_TABLES:
        path = args.ingest / f"{name}.parquet"
        if not path.is_file():
            sys.exit(f"duckdb_sql: {path} is missing: run evalpipe's ingest first")
        con.execute(f"create view {name} as select * from read_parquet({sql_path(path)})")
        registered.add(name)
    for path in sorted(args.reference.glob("*.parquet")):
        con.execute(f"create view {path.stem} as select * from read_parquet({sql_path(path)})")
        registered.add(path.stem)

    pending = []
    for path, kind in discover(args.queries):
        sql = path.read_text(encoding="utf-8")
        table, reads, view = parse_header(sql)
        if table != path.stem:
            sys.exit(f"duckdb_sql: {path}: header `table: {table}` is not the file name")
        if any(mark in sql for mark in ("{{", "{%", "{#")):
            rendered = args.rendered / f"{table}.sql"
            if not rendered.is_file():
                sys.exit(f"duckdb_sql: {path} is a template and {rendered} is missing: "
                         "run evalpipe's transform first")
            sql = rendered.read_text(encoding="utf-8")
        pending.append((path, kind, table, reads, sql, view))

    shims_used = {}
    per_query = []
    while pending:
        # evalpipe's waves, one query at a time: staging before outputs, and a query only once
        # the tables it reads exist (DuckDB parallelises inside each query instead).
        staging_left = any(q[1] == "staging" for q in pending)
        ready = next(
            (q for q in pending
             if (not staging_left or q[1] == "staging") and all(r in registered for r in q[3])),
            None,
        )
        if ready is None:
            path, _, _, reads, _, _ = pending[0]
            missing = [r for r in reads if r not in registered]
            sys.exit(f"duckdb_sql: {path} reads {', '.join(missing)}, which nothing makes")
        pending.remove(ready)
        path, kind, table, _reads, sql, view = ready
        t0 = time.perf_counter()
        if view:
            # `materialized: view`, as evalpipe runs it: no file, each reader computes the rows.
            con.execute(f"create view {table} as {shim(sql, shims_used)}")
            per_query.append({"table": table, "kind": kind, "rows": None,
                              "seconds": time.perf_counter() - t0})
            registered.add(table)
            continue
        parquet = args.out / f"{table}.parquet"
        csv = args.out / f"{table}.csv"
        try:
            # Written straight to Parquet, in the query's order, and read back from the file
            # by later queries, as evalpipe's transform does: the file is the table of record.
            # (Held as DuckDB tables in memory, the staging tables of 10M participants spilled
            # more than the disk had.)
            con.execute(f"copy ({shim(sql, shims_used)}) to {sql_path(parquet)} "
                        "(format parquet, compression snappy)")
        except duckdb.Error as e:
            sys.exit(f"duckdb_sql: {path} (table `{table}`) failed in DuckDB: {e}")
        con.execute(f"create view {table} as select * from read_parquet({sql_path(parquet)})")
        if kind != "staging":
            con.execute(f"copy {table} to {sql_path(csv)} (format csv, header true)")
        rows = con.execute(f"select count(*) from {table}").fetchone()[0]
        per_query.append({"table": table, "kind": kind, "rows": rows,
                          "seconds": time.perf_counter() - t0})
        registered.add(table)

    total = time.perf_counter() - started
    for name, _p, _r, why in SHIMS:
        if name in shims_used:
            print(f"duckdb_sql: shim `{name}` applied {shims_used[name]} time(s): {why}",
                  file=sys.stderr)
    print(f"duckdb_sql: {len(per_query)} queries in {total:.3f} s (DuckDB {duckdb.__version__})",
          file=sys.stderr)
    if args.timings:
        args.timings.write_text(json.dumps({
            "duckdb_version": duckdb.__version__,
            "total_seconds": total,
            "shims": shims_used,
            "queries": per_query,
        }, indent=2))


if __name__ == "__main__":
    main()
