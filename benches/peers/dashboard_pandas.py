#!/usr/bin/env python3
"""The dashboard packs the usual way, as a peer of `evalpipe dashboard`: pandas reads the same
finished runs and computes the packs' main tables — the milestones per refresh, each lot's
milestones against its pro-rata target with the change since the refresh before, the split by
cohort and demographics at the latest refresh, and each lot's data quality (rows read and
quarantined, participants entered late, records corrected) — and jinja2 renders one HTML page
per pack (the programme and every lot). Less than evalpipe does: no disclosure control, no
charts, no PDF.

    dashboard_pandas.py OUT_DIR RUN...     # runs oldest first

Writes OUT_DIR/<pack>.html and OUT_DIR/{headline,by_lot,quality}.csv for the equality check,
and prints the seconds it took to stderr.
"""

import sys
import time
from pathlib import Path

import jinja2
import pandas as pd

TEMPLATE = jinja2.Template("""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>{{ name }}</title></head><body><h1>{{ name }}</h1>
<h2>Milestones</h2>{{ headline }}
<h2>By lot</h2>{{ by_lot }}
<h2>Groups</h2>{{ groups }}
<h2>Data quality</h2>{{ quality }}
</body></html>""")

BREAKDOWNS = ["cohort", "sex", "age_band", "ethnic_group"]


def main():
    started = time.perf_counter()
    out = Path(sys.argv[1])
    runs = [Path(p) for p in sys.argv[2:]]
    out.mkdir(parents=True, exist_ok=True)
    latest = runs[-1]
    lots = pd.read_parquet(latest / "tables/reference/lots.parquet")
    milestones = pd.read_parquet(latest / "tables/reference/milestones.parquet")
    share = lots.set_index("lot_code")["lot_value_gbp"].astype(float)
    share = share / share.sum()

    headline, by_lot, quality, people = [], [], [], []
    for k, run in enumerate(runs, start=1):
        perf = pd.read_parquet(run / "tables/claims_performance.parquet")
        perf["refresh_order"] = k
        headline.append(perf[["refresh_order", "milestone_code", "achieved", "target"]])
        claims = pd.read_parquet(run / "tables/validated_claims.parquet",
                                 columns=["lot_code", "milestone"])
        counts = claims.groupby(["lot_code", "milestone"]).size()
        grid = pd.MultiIndex.from_product([lots["lot_code"], milestones["milestone_code"]],
                                          names=["lot_code", "milestone_code"])
        counts = counts.reindex(grid, fill_value=0).rename("achieved").reset_index()
        counts["refresh_order"] = k
        by_lot.append(counts)
        acc = pd.read_csv(run / "ingest/validation/accounting.csv")
        acc = acc[acc["dataset"] == "mi"].groupby("lot")[["rows_read", "rows_quarantined"]].sum()
        acc["refresh_order"] = k
        quality.append(acc.reset_index().rename(columns={"lot": "lot_code"}))
        p = pd.read_parquet(run / "ingest/participants.parquet",
                            columns=["participant_id", "lot_code", "registration_date",
                                     "payment_group", "gender", "ethnicity",
                                     "age_at_registration"])
        p["refresh_order"] = k
        people.append(p)

    headline = pd.concat(headline, ignore_index=True)
    by_lot = pd.concat(by_lot, ignore_index=True).sort_values(
        ["lot_code", "milestone_code", "refresh_order"])
    by_lot["change"] = by_lot.groupby(["lot_code", "milestone_code"])["achieved"].diff()
    targets = milestones.set_index("milestone_code")["target"].astype(float)
    by_lot["lot_target"] = (by_lot["milestone_code"].map(targets)
                            * by_lot["lot_code"].map(share)).round()
    by_lot["pct_of_target"] = by_lot["achieved"] / by_lot["lot_target"]

    # Late entries and corrections: each refresh against the one before, by pseudonym.
    dates = {}
    for k, run in enumerate(runs, start=1):
        dates[k] = max(pd.Timestamp(n.split("_")[-1][:8]) for n in
                       pd.read_csv(run / "ingest/validation/accounting.csv")["file"]
                       if n.startswith("mi_"))
    quality = pd.concat(quality, ignore_index=True)
    late_rows, corrected_rows = [], []
    for k in range(2, len(runs) + 1):
        now, before = people[k - 1], people[k - 2]
        merged = now.merge(before, on="participant_id", how="left", suffixes=("", "_before"),
                           indicator=True)
        new = merged[(merged["_merge"] == "left_only")
                     & (pd.to_datetime(merged["registration_date"]) <= dates[k - 1])]
        late = new.groupby("lot_code").size().rename("entered_late").reset_index()
        late["refresh_order"] = k
        late_rows.append(late)
        both = merged[merged["_merge"] == "both"]
        changed = pd.Series(False, index=both.index)
        for c in ["payment_group", "gender", "ethnicity", "registration_date",
                  "age_at_registration"]:
            a, b = both[c], both[c + "_before"]
            changed |= ~((a == b) | (a.isna() & b.isna()))
        corr = both[changed].groupby("lot_code").size().rename("corrected").reset_index()
        corr["refresh_order"] = k
        corrected_rows.append(corr)
    if late_rows:
        quality = quality.merge(pd.concat(late_rows), on=["refresh_order", "lot_code"], how="left")
        quality = quality.merge(pd.concat(corrected_rows), on=["refresh_order", "lot_code"],
                                how="left")
        first = quality["refresh_order"] == 1
        quality.loc[~first, ["entered_late", "corrected"]] = (
            quality.loc[~first, ["entered_late", "corrected"]].fillna(0))

    # The groups at the latest refresh, per lot and for the programme.
    outcomes = pd.read_parquet(latest / "tables/participant_outcomes.parquet",
                               columns=["place", "is_embedded", "is_job_start",
                                        "is_sustained_13", "is_progressed"])
    chars = pd.read_parquet(latest / "tables/participant_characteristics.parquet",
                            columns=["place", "lot_code", "characteristic", "category"])
    chars = chars[chars["characteristic"].isin(BREAKDOWNS)].merge(outcomes, on="place")
    agg = {"participants": ("place", "size"), "embedded": ("is_embedded", "sum"),
           "job_starts": ("is_job_start", "sum"), "sustained_13": ("is_sustained_13", "sum"),
           "progressed": ("is_progressed", "sum")}
    groups = chars.groupby(["lot_code", "characteristic", "category"]).agg(**agg).reset_index()
    programme = chars.groupby(["characteristic", "category"]).agg(**agg).reset_index()
    programme["lot_code"] = "ALL"
    groups = pd.concat([programme, groups], ignore_index=True)

    last = len(runs)
    packs = [("ALL", "All lots")] + list(zip(lots["lot_code"], lots["lot_name"]))
    for code, name in packs:
        mine = (lambda t: t) if code == "ALL" else (lambda t: t[t["lot_code"] == code])
        page = TEMPLATE.render(
            name=name,
            headline=headline[headline["refresh_order"] == last].to_html(index=False),
            by_lot=mine(by_lot).to_html(index=False),
            groups=groups[(groups["lot_code"] == code)].to_html(index=False),
            quality=mine(quality).to_html(index=False),
        )
        (out / f"{'programme' if code == 'ALL' else 'lot_' + code}.html").write_text(page)
    headline.to_csv(out / "headline.csv", index=False)
    by_lot.to_csv(out / "by_lot.csv", index=False)
    quality.to_csv(out / "quality.csv", index=False)
    print(f"dashboard_pandas: {time.perf_counter() - started:.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
