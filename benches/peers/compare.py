"""Equality before speed: a peer's results must be evalpipe's before anything is timed.

    python compare.py duckdb --run RUN --peer DUCKDB_OUT --queries queries [--json FILE]
    python compare.py python --run RUN --peer PYTHON_OUT [--json FILE]

`duckdb`: every query's table (`queries/staging/*.sql`, `queries/*.sql`) as DuckDB wrote it
must equal evalpipe's `RUN/tables/<table>.parquet`: the same columns, the same rows in the same
order, text and whole numbers exactly, floats to 1e-9 relative (the two engines may add in
another order). A view (`materialized: view`, no file in either) is compared through the tables
of the queries that read it.

`python`: each table the Python reference wrote (`tables/<table>.csv`) must equal evalpipe's
table of that name on the columns it has (the same rows in the same order, floats to 1e-9
relative), and each model (`models/<id>.json`) must have evalpipe's N and events, the N after
every population step, and the same terms with odds ratios to 1e-6 relative
(`RUN/tables/models/<id>/coefficients.parquet`, `summary.parquet`, `steps.parquet`).

Exit status 0 when everything matches; 1 with a message naming each difference otherwise.
"""

import argparse
import csv
import datetime as dt
import decimal
import json
import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

FLOAT_REL = 1e-9
OR_REL = 1e-6
SHOWN = 8  # differences listed per table


def read_parquet(path):
    """(column names, list of row tuples) of a Parquet file, values as Python objects."""
    table = pq.read_table(path)
    columns = table.column_names
    data = [table.column(c).to_pylist() for c in columns]
    return columns, list(zip(*data)) if data else []


def is_null(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def same_value(a, b, rel):
    """Whether two cells are equal: numbers within `rel` (relative), everything else exactly."""
    if is_null(a) or is_null(b):
        return is_null(a) and is_null(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float, decimal.Decimal)) and isinstance(b, (int, float, decimal.Decimal)):
        if isinstance(a, (int, decimal.Decimal)) and isinstance(b, (int, decimal.Decimal)):
            return decimal.Decimal(a) == decimal.Decimal(b)
        return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-300)
    if isinstance(a, dt.datetime) and isinstance(b, dt.date) and not isinstance(b, dt.datetime):
        return a.date() == b and a.time() == dt.time()
    return a == b


def compare_rows(name, ours, theirs, rel, columns=None):
    """Differences between evalpipe's table `ours` and a peer's `theirs`, as messages."""
    (oc, orows), (tc, trows) = ours, theirs
    problems = []
    if columns is None:
        if oc != tc:
            return [f"{name}: columns differ: evalpipe {oc}, peer {tc}"]
        columns = oc
    missing = [c for c in columns if c not in oc]
    if missing:
        return [f"{name}: evalpipe's table has no column(s) {missing}"]
    if len(orows) != len(trows):
        problems.append(f"{name}: evalpipe has {len(orows)} rows, the peer {len(trows)}")
    oi = [oc.index(c) for c in columns]
    ti = [tc.index(c) for c in columns]
    for r, (orow, trow) in enumerate(zip(orows, trows)):
        for c, i, j in zip(columns, oi, ti):
            if not same_value(orow[i], trow[j], rel):
                problems.append(f"{name}: row {r + 1}, `{c}`: evalpipe {orow[i]!r}, "
                                f"peer {trow[j]!r}")
                if len(problems) >= SHOWN:
                    problems.append(f"{name}: … (first {SHOWN} differences shown)")
                    return problems
    return problems


def query_tables(queries_dir):
    """Every table the queries make: the file stems of staging/*.sql and *.sql."""
    return ([p.stem for p in sorted((queries_dir / "staging").glob("*.sql"))]
            + [p.stem for p in sorted(queries_dir.glob("*.sql"))])


def compare_parquet(name, ours, theirs, rel):
    """Differences between two Parquet tables, column by column in Arrow: a column equal as
    Arrow data (same type and values) is not looked at again, so a table of tens of millions of
    rows is compared without turning it into Python objects; another is compared cell by cell
    a slice at a time (types may differ between engines: int32 and int64, decimals)."""
    o, t = pq.read_table(ours), pq.read_table(theirs)
    if o.column_names != t.column_names:
        return [f"{name}: columns differ: evalpipe {o.column_names}, peer {t.column_names}"]
    problems = []
    if o.num_rows != t.num_rows:
        problems.append(f"{name}: evalpipe has {o.num_rows} rows, the peer {t.num_rows}")
    return compare_columns(name, o, t, rel, 0, problems)


def compare_columns(name, o, t, rel, offset, problems):
    """`problems` and the cells where `o` and `t` differ (rows numbered from `offset` + 1)."""
    rows = min(o.num_rows, t.num_rows)
    for c in o.column_names:
        a, b = o.column(c).slice(0, rows), t.column(c).slice(0, rows)
        if a.type == b.type and a.equals(b):
            continue
        for start in range(0, rows, 100_000):
            av = a.slice(start, 100_000).to_pylist()
            bv = b.slice(start, 100_000).to_pylist()
            for r, (x, y) in enumerate(zip(av, bv)):
                if not same_value(x, y, rel):
                    problems.append(f"{name}: row {offset + start + r + 1}, `{c}`: "
                                    f"evalpipe {x!r}, peer {y!r}")
                    if len(problems) >= SHOWN:
                        problems.append(f"{name}: … (first {SHOWN} differences shown)")
                        return problems
    return problems


def views(run):
    """The tables evalpipe's catalogue says are views (`materialized: view`): they have no file,
    their rows are computed by the queries that read them, whose tables are compared."""
    with (run / "tables" / "catalog.csv").open(newline="", encoding="utf-8") as f:
        return {r["table"] for r in csv.DictReader(f) if r.get("materialized") == "view"}


def compare_duckdb(run, peer, queries_dir):
    results, problems = {}, []
    skipped = views(run)
    for table in query_tables(queries_dir):
        if table in skipped:
            continue
        ours, theirs = run / "tables" / f"{table}.parquet", peer / f"{table}.parquet"
        if not ours.is_file() or not theirs.is_file():
            p = [f"{table}: missing {'evalpipe' if not ours.is_file() else 'DuckDB'}'s table"]
        else:
            p = compare_parquet(table, ours, theirs, FLOAT_REL)
        results[table] = {"match": not p,
                          "rows": pq.ParquetFile(ours).metadata.num_rows
                          if ours.is_file() else None}
        problems += p
    return results, problems


def typed_csv(path, like):
    """A Python-reference CSV as rows of values typed like evalpipe's columns of the same name
    (CSV has no types: an empty field is null, `True`/`False` a flag, numbers are numbers)."""
    (oc, orows) = like
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    kinds = {}
    for c in header:
        sample = None
        if c in oc:
            i = oc.index(c)
            sample = next((r[i] for r in orows if r[i] is not None), None)
        kinds[c] = type(sample)

    def convert(text, kind):
        if text == "":
            return None
        if kind is bool:
            return {"True": True, "False": False, "true": True, "false": False}.get(text, text)
        if kind in (int, float, decimal.Decimal):
            number = float(text)
            return int(number) if kind is int and number.is_integer() else number
        return text

    return header, [tuple(convert(v, kinds[c]) for v, c in zip(r, header)) for r in rows]


def compare_python(run, peer):
    results, problems = {"tables": {}, "models": {}}, []
    for path in sorted((peer / "tables").glob("*.csv")):
        table = path.stem
        ours = run / "tables" / f"{table}.parquet"
        if not ours.is_file():
            problems.append(f"{table}: evalpipe has no table of this name")
            results["tables"][table] = {"match": False}
            continue
        o = read_parquet(ours)
        t = typed_csv(path, o)
        p = compare_rows(table, o, t, FLOAT_REL, columns=t[0])
        results["tables"][table] = {"match": not p, "rows": len(t[1]), "columns": len(t[0])}
        problems += p
    for path in sorted((peer / "models").glob("*.json")):
        model = json.loads(path.read_text())
        mid = model["id"]
        folder = run / "tables" / "models" / mid
        p = []
        sc, srows = read_parquet(folder / "summary.parquet")
        summary = dict(zip(sc, srows[0]))
        for key in ("n", "events"):
            if summary.get(key) != model[key]:
                p.append(f"model {mid}: {key} is {summary.get(key)} in evalpipe, "
                         f"{model[key]} in statsmodels")
        stc, strows = read_parquet(folder / "steps.parquet")
        step_n = [dict(zip(stc, r))["n"] for r in strows]
        if step_n != [s["n"] for s in model["steps"]]:
            p.append(f"model {mid}: N after each step is {step_n} in evalpipe, "
                     f"{[s['n'] for s in model['steps']]} in statsmodels")
        cc, crows = read_parquet(folder / "coefficients.parquet")
        ours = {r["term"]: r for r in (dict(zip(cc, row)) for row in crows)
                if r["kind"] in ("constant", "level")}
        theirs = {t["term"]: t for t in model["terms"]}
        if list(ours) != list(theirs):
            p.append(f"model {mid}: terms differ: evalpipe {list(ours)}, "
                     f"statsmodels {list(theirs)}")
        worst = 0.0
        for term in ours.keys() & theirs.keys():
            a, b = ours[term]["odds_ratio"], theirs[term]["odds_ratio"]
            rel = abs(a - b) / max(abs(a), abs(b))
            worst = max(worst, rel)
            if not math.isclose(a, b, rel_tol=OR_REL):
                p.append(f"model {mid}: odds ratio of {term} is {a!r} in evalpipe, "
                         f"{b!r} in statsmodels")
        results["models"][mid] = {"match": not p, "n": model["n"], "terms": len(theirs),
                                  "max_rel_diff_odds_ratio": worst}
        problems += p
    if not results["tables"] or not results["models"]:
        problems.append("the Python reference wrote no tables or no models: nothing compared")
    return results, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("peer_kind", choices=["duckdb", "python"])
    ap.add_argument("--run", required=True, type=Path, help="evalpipe's run folder")
    ap.add_argument("--peer", required=True, type=Path, help="the peer's output folder")
    ap.add_argument("--queries", type=Path, default=Path("queries"))
    ap.add_argument("--json", type=Path, help="write the per-table results here")
    args = ap.parse_args()
    if args.peer_kind == "duckdb":
        results, problems = compare_duckdb(args.run, args.peer, args.queries)
    else:
        results, problems = compare_python(args.run, args.peer)
    if args.json:
        args.json.write_text(json.dumps({"match": not problems, "results": results,
                                         "problems": problems}, indent=2, default=str))
    if problems:
        print(f"compare {args.peer_kind}: MISMATCH — the peer does not compute what evalpipe "
              f"computes, so timing it would compare different work:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        sys.exit(1)
    if args.peer_kind == "duckdb":
        print(f"compare duckdb: all {len(results)} query tables equal evalpipe's", file=sys.stderr)
    else:
        print(f"compare python: {len(results['tables'])} tables and "
              f"{len(results['models'])} models equal evalpipe's", file=sys.stderr)


if __name__ == "__main__":
    main()
