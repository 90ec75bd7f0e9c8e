"""Peer 1: the evaluation's core done "the usual way" — pandas, statsmodels and jinja2, no evalpipe.

An analyst without evalpipe would: read each lot's latest MI extract and the claims extract,
check them against the data dictionary, drop or pseudonymise identifiers, tabulate, fit the
regressions and render a section of the report. This script does exactly that, reading the same
raw files and the same configuration (`pipeline/`: the dictionary's columns, codes and rules, the
study's lots, cohorts, milestones, cut-offs, characteristics and bands, the model specs), so that
`compare.py` can demand the same numbers as evalpipe's run before anything is timed.

What it covers (a representative subset of the report, not all of it):
- validation of every MI and claims row as `pipeline/dictionary/*.toml` says: types, code lists,
  required fields, bounds, cross-field rules, a provider_ref repeated within a lot (all copies
  quarantined), duplicate claim_ref, the counted claims' one-per-milestone, sequence and cohort
  rules; a row breaking any rule is left out whole, as evalpipe quarantines it;
- identifiers: names, date of birth (after deriving the age), postcode and NI number dropped;
  provider_ref replaced by evalpipe's keyed pseudonym (HMAC-SHA-256 of lot and reference);
- tables: participants by lot and by cohort, job outcomes by lot, sex and age band, sustainment
  and progression by lot, claims performance per milestone, and the staging table
  `outcome_rates` (every outcome × characteristic × category), with evalpipe's column names;
- the three models of `pipeline/models/*.toml` with statsmodels' Logit: same population steps,
  exclusions, covariates, reference levels and listwise deletion;
- one report section (job outcomes and the job outcome model) rendered with jinja2.

What it leaves out, on purpose: the validation reports and line accounting, the other ~50
tables, the Framework stage, disclosure control, charts, HTML/PDF. Rows whose fields do not line
up with the header (a stray quote) are not handled specially: pyarrow raises or misreads them,
where evalpipe quarantines them; the benchmark data has none.

Usage:
    python python_reference.py --data DATA_DIR --pipeline pipeline --out OUT_DIR

Writes OUT_DIR/tables/<table>.csv, OUT_DIR/models/<id>.json, OUT_DIR/report_section.md and
OUT_DIR/timings.json (seconds per step, for BENCHMARKS.md).
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import sys
import time
import tomllib
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import statsmodels.api as sm
from jinja2 import Environment

# The pseudonymisation key of the synthetic twin, public by design (evalpipe's SYNTHETIC_KEY);
# real extracts take theirs from EVALPIPE_PSEUDONYM_KEY, as evalpipe does.
SYNTHETIC_KEY = b"evalpipe synthetic twin: public key, not for real data"

EPOCH = pd.Timestamp("1970-01-01")


# ----------------------------------------------------------------------------------------------
# Configuration: the same TOML files evalpipe reads, so no label, code or rule is retyped here.

def load_config(pipeline):
    study = tomllib.loads((pipeline / "study.toml").read_text(encoding="utf-8"))
    mi = tomllib.loads((pipeline / "dictionary" / "mi.toml").read_text(encoding="utf-8"))
    claims = tomllib.loads((pipeline / "dictionary" / "claims.toml").read_text(encoding="utf-8"))
    # Code lists are declared in both dictionaries (claims refers to the MI's lots and cohorts).
    codes = {}
    for d in (mi, claims):
        for name, entries in d.get("codes", {}).items():
            codes[name] = entries
    models = [tomllib.loads(p.read_text(encoding="utf-8"))
              for p in sorted((pipeline / "models").glob("*.toml"))]
    return study, mi, claims, codes, models


def claims_cutoff(study, lot):
    """The date a lot's claims must be submitted by to count (study.toml [periods])."""
    by_lot = study["periods"].get("claims_validated_to_by_lot", {})
    return by_lot.get(lot, study["periods"]["claims_validated_to"])


# ----------------------------------------------------------------------------------------------
# Reading the extracts.

FILE_NAME = re.compile(r"^(mi)_([A-Za-z0-9]+)_(\d{8})\.(csv|xlsx)$|^(claims)_(\d{8})\.csv$")


def discover(data_dir):
    """The latest MI file of each lot and the latest claims file (each refresh is cumulative)."""
    lots, claims = {}, []
    for p in sorted(data_dir.iterdir()):
        m = FILE_NAME.match(p.name)
        if not m or not p.is_file():
            continue
        if m.group(1):
            lots.setdefault(m.group(2).upper(), []).append((m.group(3), p))
        else:
            claims.append((m.group(6), p))
    latest_mi = {lot: max(files)[1] for lot, files in lots.items()}
    latest_claims = max(claims)[1] if claims else None
    return latest_mi, latest_claims


def read_csv_text(path, free_text):
    """Every field as stripped text, blanks as ''. UTF-8 (with or without a byte-order mark),
    else Windows-1252, the two encodings providers' tools export.

    Read by pyarrow's CSV reader, the one behind pandas' engine="pyarrow" (three times faster
    than the C engine, no Python object per cell), called directly for one option pandas does
    not pass on: every column but the free text (names, references) is dictionary-encoded as it
    is parsed, and so arrives in pandas as a categorical of its text. Those columns are codes,
    Y/N flags, dates and amounts, a few thousand distinct texts over millions of rows: one small
    integer a row instead of every text and an offset (at 10M participants the claims extract
    is 4.4 GB as strings, 1.4 GB so). pandas' own dtype="category" would not do: it lets
    pyarrow infer the column's type first ("100.00" becomes 100.0). Validation works on the
    distinct values anyway (by_unique, as_category)."""
    convert = pa_csv.ConvertOptions(
        column_types={c: pa.large_string() for c in free_text},
        default_column_type=pa.dictionary(pa.int32(), pa.string()))
    try:
        table = pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(encoding="utf-8"),
                                convert_options=convert)
    except (UnicodeDecodeError, ValueError):
        table = pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(encoding="cp1252"),
                                convert_options=convert)
    # self_destruct: each Arrow column is freed once converted, not after the whole table.
    df = table.to_pandas(self_destruct=True)
    del table
    df.columns = [c.strip().lstrip("\ufeff") for c in df.columns]
    for c in df.columns:
        df[c] = strip_text(df[c])
    return df


def strip_text(text):
    """Text without surrounding blanks; for a categorical, its distinct texts are stripped (those
    equal once stripped become one category) and every row keeps its small integer."""
    if isinstance(text.dtype, pd.CategoricalDtype):
        stripped = text.cat.categories.str.strip()
        if stripped.equals(text.cat.categories):
            return text
        codes, uniques = pd.factorize(stripped)
        return pd.Series(pd.Categorical.from_codes(codes[text.cat.codes], categories=uniques),
                         index=text.index)
    return text.str.strip()


def compact_text(df, free_text):
    """Every column but the free text as a categorical of its text, as read_csv_text reads."""
    for c in df.columns:
        if c not in free_text:
            df[c] = df[c].astype("category")
    return df


def by_unique(text, fn):
    """Applies `fn` (a function of a small Series of distinct texts) to each distinct text once
    and spreads the results back: extracts repeat a handful of codes and a few thousand dates
    over millions of rows, so parsing the distinct values is most of the speed-up an analyst
    gets from pandas. Returns a Series on text's index (NaN/NaT where fn gives nothing). `text`
    may be a string column or a categorical of text; fn always sees strings."""
    codes, uniques = pd.factorize(text)
    result = fn(pd.Series(uniques).astype(str))
    taken = result.take(np.where(codes < 0, 0, codes)) if len(result) else result
    # `.array` keeps pandas' own array (Arrow strings, datetimes): no Python object per row.
    out = pd.Series(taken.array, index=text.index)
    return out.where(codes >= 0) if (codes < 0).any() else out


def as_category(text, mapping):
    """Code texts mapped through `mapping` (ignoring case) as a categorical (NaN if unmapped)."""
    codes, uniques = pd.factorize(text)
    categories = list(dict.fromkeys(mapping.values()))
    position = {c: i for i, c in enumerate(categories)}
    lookup = np.array([position.get(mapping.get(u.lower()), -1) for u in uniques] + [-1])
    return pd.Series(pd.Categorical.from_codes(lookup[codes], categories=categories),
                     index=text.index)


def excel_cell_text(v, date_format):
    """A workbook cell as the text a CSV export of it would hold (dates as DD/MM/YYYY, whole
    numbers without a decimal point), which is how evalpipe reads workbooks too."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (datetime, date, pd.Timestamp)):
        return v.strftime(date_format)
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v).strip()


def read_xlsx_text(path, sheet, date_format, free_text):
    df = pd.read_excel(path, sheet_name=sheet, dtype=object, engine="openpyxl",
                       keep_default_na=False, na_filter=False)
    df.columns = [str(c).strip() for c in df.columns]
    for c in df.columns:
        df[c] = df[c].map(lambda v: excel_cell_text(v, date_format)).astype(str)
    return compact_text(df, free_text)


def free_text_columns(dictionary):
    """The dictionary's free-text columns (names, references), kept as strings when read."""
    return {c["name"] for c in dictionary["column"] if c["type"] == "text"}


# ----------------------------------------------------------------------------------------------
# Validation: one boolean "bad" mask per file, OR-ed over every rule of the dictionary.

def parse_column(spec, text, codes, date_format):
    """(typed values, mask of rows whose non-blank text does not parse or is out of bounds)."""
    filled = text != ""
    kind = spec["type"]
    if kind == "text":
        # Kept as read: nothing reads a text column typed (identifiers are dropped or
        # pseudonymised from the raw text), and a copy of every name and reference is GBs.
        values, bad = text, pd.Series(False, index=text.index)
    elif kind == "code":
        # Codes are matched ignoring case and stored as the dictionary writes them.
        canonical = {c["code"].lower(): c["code"] for c in codes[spec["codes"]]}
        values = as_category(text, canonical)
        bad = filled & values.isna()
    elif kind == "flag":
        values = as_category(text, {"y": True, "n": False})
        bad = filled & values.isna()
    elif kind == "date":
        values = by_unique(text, lambda u: pd.to_datetime(
            u.where(u != "", None), format=date_format, errors="coerce"))
        values = pd.to_datetime(values)
        bad = filled & values.isna()
    elif kind == "integer":
        values = by_unique(text, lambda u: pd.to_numeric(
            u.where(u.str.fullmatch(r"[+-]?\d{1,18}"), None), errors="coerce")).astype(float)
        bad = filled & values.isna()
    elif kind == "number":
        values = by_unique(text, lambda u: pd.to_numeric(
            u.where(u != "", None), errors="coerce")).astype(float)
        bad = filled & (values.isna() | ~np.isfinite(values.fillna(0)))
    elif kind == "money":
        # Pounds with up to two decimals and no symbol or sign.
        values = by_unique(text, lambda u: pd.to_numeric(
            u.where(u.str.fullmatch(r"\d{1,12}(\.\d{1,2})?"), None),
            errors="coerce")).astype(float)
        bad = filled & values.isna()
    else:
        raise ValueError(f"unknown column type {kind}")
    for bound, below in (("min", True), ("max", False)):
        if bound not in spec:
            continue
        limit = spec[bound]
        limit = pd.Timestamp(limit) if isinstance(limit, date) else limit
        out = values < limit if below else values > limit
        bad |= out.fillna(False).astype(bool)
    if spec.get("required"):
        bad |= ~filled
    return values, bad


def age_in_years(birth, at):
    """Whole years from birth to at (evalpipe's age_in_years); NaN when at is before birth."""
    years = at.dt.year - birth.dt.year
    before_birthday = (at.dt.month * 100 + at.dt.day) < (birth.dt.month * 100 + birth.dt.day)
    years = years - before_birthday.astype(int)
    return years.where(at >= birth)


def validate(df, dictionary, codes, file_lot=None):
    """Parses every dictionary column; returns (typed columns dict, bad-row mask)."""
    fmt = dictionary["dataset"]["date_format"]
    columns = dictionary["column"]
    missing = [c["name"] for c in columns if c["name"] not in df.columns]
    if missing:
        raise SystemExit(f"python_reference: header lacks {', '.join(missing)}")
    typed, bad = {}, pd.Series(False, index=df.index)
    for spec in columns:
        values, col_bad = parse_column(spec, df[spec["name"]], codes, fmt)
        typed[spec["name"]] = values
        bad |= col_bad
    # Cross-field rules, each only on a filled field.
    for spec in columns:
        name = spec["name"]
        filled = df[name] != ""
        if "applies_when" in spec:
            rule = spec["applies_when"]
            allowed = {v.lower() for v in rule["in"]}
            bad |= filled & ~by_unique(df[rule["column"]],
                                       lambda u: u.str.lower().isin(allowed)).astype(bool)
        if "requires" in spec:
            bad |= filled & (df[spec["requires"]] == "")
        if spec.get("matches_file_lot") and file_lot is not None:
            bad |= filled & typed[name].notna() & (typed[name].astype(object) != file_lot)
        if "not_before" in spec:
            bad |= (typed[name] < typed[spec["not_before"]]).fillna(False).astype(bool)
        if "min_weeks_after" in spec:
            rule = spec["min_weeks_after"]
            earliest = typed[rule["column"]] + pd.Timedelta(days=7 * rule["weeks"])
            bad |= (typed[name] < earliest).fillna(False).astype(bool)
        if "min_age" in spec:
            rule = spec["min_age"]
            at = typed[rule["at"]]
            age = age_in_years(typed[name], at)
            checked = typed[name].notna() & at.notna()
            bad |= checked & ~(age >= rule["years"]).fillna(False).astype(bool)
    return typed, bad


def pseudonymise(lots, refs, key):
    """evalpipe's pseudonym: 'P' + the first 20 hex digits of HMAC-SHA-256(key, lot 0x1F ref).
    Computed once per distinct (lot, reference): claims repeat a participant several times."""
    messages = lots.astype(str) + "\x1f" + refs.astype(str)
    codes, uniques = pd.factorize(messages)
    del messages  # one joined text per row (30M at 10M participants): done with
    names = pd.array([
        "P" + hmac.digest(key, m.encode(), "sha256").hex()[:20] for m in uniques
    ], dtype="str")
    # Spread to the rows as Arrow strings (a take), not through an object array of them.
    return pd.Series(names.take(codes), index=lots.index)


def read_mi(files, mi_dict, codes, key, keep_flags):
    """Validated, pseudonymised MI of every lot, one row per clean participant."""
    fmt = mi_dict["dataset"]["date_format"]
    sheet = mi_dict["dataset"].get("workbook_sheet", "Participants")
    key_col = mi_dict["dataset"]["key"]
    questions = mi_dict.get("question", [])
    free_text = free_text_columns(mi_dict)
    frames, quarantined = [], 0
    for lot, path in sorted(files.items()):
        df = (read_xlsx_text(path, sheet, fmt, free_text) if path.suffix.lower() == ".xlsx"
              else read_csv_text(path, free_text))
        typed, bad = validate(df, mi_dict, codes, file_lot=lot)
        # Multi-select flags: Y, N or blank; some questions apply only to some participants.
        flags = {}
        for q in questions:
            if "applies_when" in q:
                rule = q["applies_when"]
                allowed = {v.lower() for v in rule["in"]}
                applies = by_unique(df[rule["column"]],
                                    lambda u: u.str.lower().isin(allowed)).astype(bool)
            for option in codes[q["options"]]:
                col = q["column_prefix"] + option["code"]
                text = df[col] if col in df.columns else pd.Series("", index=df.index)
                filled = text != ""
                value = as_category(text, {"y": True, "n": False})
                bad |= filled & value.isna()
                if "applies_when" in q:
                    bad |= filled & ~applies
                if q["id"] in keep_flags:
                    flags[(q["id"], option["code"])] = value
        # A provider_ref on more than one row of a lot's file: none of those rows is used.
        refs = df[key_col]
        bad |= (refs != "") & refs.duplicated(keep=False)
        quarantined += int(bad.sum())
        good = ~bad
        # A clean row's lot_code is its file's lot (matches_file_lot), here as the dictionary's
        # code list, a categorical: the same in every lot's frame, so it stays one through the
        # concat (as does every code and flag column), and the same as the claims' lot_code.
        lots = typed["lot_code"][good]
        out = pd.DataFrame({
            "lot_code": lots,
            "participant_id": pseudonymise(lots, refs[good], key),
        })
        # Keep the analysis columns; identifiers stop here (the age is derived first). Flags
        # stay categoricals of True/False (blank: NaN), one byte a row.
        for spec in mi_dict["column"]:
            if spec.get("identifier") in ("drop", "pseudonymise") or spec["name"] == "lot_code":
                continue
            out[spec["name"]] = typed[spec["name"]][good]
        for derived in mi_dict.get("derived", []):
            out[derived["name"]] = age_in_years(typed[derived["from"]], typed[derived["at"]])[good]
        for q_id in keep_flags:
            # Whether any option of the question was recorded, and each option's answer.
            opts = {o: v for (q, o), v in flags.items() if q == q_id}
            recorded = pd.concat([v.notna() for v in opts.values()], axis=1).any(axis=1)
            out[f"{q_id}__recorded"] = recorded[good]
            for o, v in opts.items():
                out[f"{q_id}.{o}"] = v[good].eq(True)
        frames.append(out)
        # This lot's raw text and parsed columns are done with: free them before the next
        # lot's file is read, not after (the biggest lot has 2.7M rows at 10M participants).
        del df, typed, bad, flags, refs
    return pd.concat(frames, ignore_index=True), quarantined


def upper_case(text):
    """text (strings or a categorical of them) upper-cased, as a categorical: computed on the
    distinct values, one small integer per row instead of an upper-cased copy of every text."""
    codes, uniques = pd.factorize(text)
    upper = pd.Categorical(pd.Series(uniques).astype(str).str.upper())
    return pd.Series(pd.Categorical.from_codes(upper.codes[codes], dtype=upper.dtype),
                     index=text.index)


def case_blind_ids(text):
    """An integer per row, the same for texts equal ignoring case: distinct texts upper-cased
    once, then numbered."""
    codes, uniques = pd.factorize(text)
    same, _ = pd.factorize(pd.Series(uniques).astype(str).str.upper())
    return same[codes]


def claims_rule_breaches(df, ds, study, counted_raw):
    """Rows breaking the claims' own rules (the counted claims' one-per-milestone and sequence,
    the milestone's cohorts). Its own function so that its working columns are freed when it
    returns, before the claims are pseudonymised."""
    bad = pd.Series(False, index=df.index)
    # Participant, milestone and cohort compared ignoring case, as evalpipe does. A participant
    # (lot, reference) as one integer: lot id × (number of references) + reference id.
    lot_col, ref_col = ds["participant"]
    lot_id, ref_id = case_blind_ids(df[lot_col]), case_blind_ids(df[ref_col])
    who = lot_id * (ref_id.max(initial=0) + 1) + ref_id
    milestone = upper_case(df[ds["milestone_column"]])
    counts_rows = counted_raw & (df[lot_col] != "") & (df[ref_col] != "") & (milestone != "")
    # Among counted claims: at most one per participant and milestone…
    per = pd.DataFrame({"who": who, "m": milestone}, index=df.index)[counts_rows]
    del lot_id, ref_id, who
    bad.loc[per.index] |= per.duplicated(["who", "m"], keep=False)
    # …and a milestone needs a counted claim for the one before it.
    for later, before in ds.get("milestone_requires", {}).items():
        had_before = per.loc[per["m"] == before.upper(), "who"].unique()
        rows = per[per["m"] == later.upper()]
        bad.loc[rows.index] |= ~rows["who"].isin(had_before)
    # A claim's milestone must be one its cohort can be paid for (study.toml), whatever status.
    allowed = {(m["code"].upper(), c.upper()) for m in study["milestone"] for c in m["cohorts"]}
    known_m = {m["code"].upper() for m in study["milestone"]}
    known_c = {c["code"].upper() for c in study["cohort"]}
    pairs = pd.DataFrame({"m": milestone, "c": upper_case(df[ds["cohort_column"]])})
    distinct = pairs.drop_duplicates()
    distinct["ok"] = [(m, c) in allowed or m not in known_m or c not in known_c
                      for m, c in zip(distinct["m"], distinct["c"])]
    bad |= ~pairs.merge(distinct, on=["m", "c"], how="left")["ok"].to_numpy()
    return bad


def read_claims(path, claims_dict, codes, study, key):
    """Validated claims with `counted` (validated status), pseudonymised: the columns the
    tables use (claim_ref and the amount are validated, then not kept)."""
    ds = claims_dict["dataset"]
    df = read_csv_text(path, free_text_columns(claims_dict))
    typed, bad = validate(df, claims_dict, codes)
    # claim_ref is the extract's key: repeated, none of the copies is used.
    bad |= (df[ds["key"]] != "") & df[ds["key"]].duplicated(keep=False)
    status = ds["counted_status"]
    counted_raw = by_unique(df[status["column"]], lambda u: u.str.upper().isin(
        {v.upper() for v in status["in"]})).astype(bool)
    bad |= claims_rule_breaches(df, ds, study, counted_raw)
    good = ~bad
    lot = typed["lot_code"][good]
    out = pd.DataFrame({
        "lot_code": lot,
        "participant_id": pseudonymise(lot, df["provider_ref"][good], key),
        "payment_group": typed["payment_group"][good],
        "milestone": typed["milestone"][good],
        "milestone_date": typed["milestone_date"][good],
        "submitted_date": typed["submitted_date"][good],
        "counted": counted_raw[good],
    })
    return out, int(bad.sum())


# ----------------------------------------------------------------------------------------------
# Derived tables.

def validated_claims(claims, study):
    """Counted claims submitted by their lot's cut-off: the only claims the report counts."""
    cutoffs = {l["code"]: pd.Timestamp(claims_cutoff(study, l["code"])) for l in study["lot"]}
    # lot_code is a categorical: map looks each lot up once, not each row.
    cutoff = pd.to_datetime(claims["lot_code"].map(cutoffs))
    keep = claims["counted"] & (claims["submitted_date"] <= cutoff)
    return claims[keep]


MILESTONE_COLUMNS = {"EMB": "embedded_date", "JS": "job_start_date",
                     "S13": "sustained_13_date", "S26": "sustained_26_date",
                     "S52": "sustained_52_date", "PROG": "progression_date"}


def participant_outcomes(mi, vclaims, study):
    """Each MI participant's outcomes: a validated claim's date where there is one, else the MI's."""
    dates = (vclaims.loc[vclaims["milestone"].isin(MILESTONE_COLUMNS),
                         ["lot_code", "participant_id", "milestone", "milestone_date"]]
             .pivot_table(index=["lot_code", "participant_id"], columns="milestone",
                          values="milestone_date", aggfunc="min"))
    out = mi[["participant_id", "lot_code", "payment_group", "registration_date"]].copy()
    joined = mi[["lot_code", "participant_id"]].join(dates, on=["lot_code", "participant_id"])
    for code, column in MILESTONE_COLUMNS.items():
        claim = joined[code] if code in joined.columns else pd.Series(pd.NaT, index=mi.index)
        out[column] = claim.fillna(mi[column])
    out_of_work = {c["code"]: c["out_of_work"] for c in study["cohort"]}
    out["is_out_of_work"] = out["payment_group"].map(out_of_work).astype(bool)
    out["is_embedded"] = out["embedded_date"].notna()
    out["is_job_start"] = out["job_start_date"].notna()
    out["is_sustained_13"] = out["sustained_13_date"].notna()
    out["is_progressed"] = out["progression_date"].notna()
    return out


def characteristics(study, codes, mi_dict):
    """Every characteristic the tables break down by, in report order, as
    (name, title, [(category_order, category)], function of the MI frame → category order)."""
    out = []
    lots, cohorts = study["lot"], sorted(study["cohort"], key=lambda c: c["report_order"])
    out.append(("all", "All participants", [(1, "All participants")],
                lambda mi: pd.Series(1, index=mi.index)))
    out.append(("cohort", "Cohort", [(i + 1, c["name"]) for i, c in enumerate(cohorts)],
                lambda mi: mi["payment_group"].map(
                    {c["code"]: i + 1 for i, c in enumerate(cohorts)})))
    out.append(("lot", "Lot", [(i + 1, l["name"]) for i, l in enumerate(lots)],
                lambda mi: mi["lot_code"].map({l["code"]: i + 1 for i, l in enumerate(lots)})))
    groups = list(dict.fromkeys(l["provider_group"] for l in lots))
    out.append(("provider_group", "Provider group", [(i + 1, g) for i, g in enumerate(groups)],
                lambda mi: mi["lot_code"].map(
                    {l["code"]: groups.index(l["provider_group"]) + 1 for l in lots})))
    split = pd.Timestamp(study["periods"]["after_lockdown_from"])
    out.append(("enrolment_period", "Enrolled before or from the first lockdown",
                [(1, "Before the first lockdown"), (2, "From the first lockdown")],
                lambda mi: pd.Series(np.where(mi["registration_date"] < split, 1, 2),
                                     index=mi.index)))
    column_specs = {c["name"]: c for c in mi_dict["column"]}
    for c in study.get("characteristic", []):
        col = c["column"]
        spec = column_specs.get(col, {"type": "integer"})  # derived columns are whole numbers
        if "grouping" in c:
            labels, mapping = [], {}
            for code in codes[spec["codes"]]:
                label = code.get("group", {}).get(c["grouping"])
                if label is None:
                    continue  # e.g. "prefer not to say": no data for this grouping
                if label not in labels:
                    labels.append(label)
                mapping[code["code"]] = labels.index(label) + 1
            cats = list(enumerate(labels, 1))
            # Bind col and mapping now: a plain lambda would see the loop's last values.
            fn = (lambda col, m: lambda mi: mi[col].map(m))(col, mapping)
        elif "banding" in c:
            bands = [b for b in study["band"] if b["banding"] == c["banding"]]
            cats = [(i + 1, b["label"]) for i, b in enumerate(bands)]

            def fn(mi, col=col, bands=bands):
                x = mi[col].astype(float)
                result = pd.Series(np.nan, index=mi.index)
                for i, b in enumerate(bands):
                    inside = x.notna()
                    if "from" in b:
                        inside &= x >= b["from"]
                    if "below" in b:
                        inside &= x < b["below"]
                    result[inside] = i + 1
                return result
        elif spec["type"] == "flag":
            cats = [(1, "Yes"), (2, "No")]
            fn = (lambda col: lambda mi: mi[col].map({True: 1, False: 2}))(col)
        else:
            cats = [(i + 1, code["label"]) for i, code in enumerate(codes[spec["codes"]])]
            mapping = {code["code"]: i + 1 for i, code in enumerate(codes[spec["codes"]])}
            fn = (lambda col, m: lambda mi: mi[col].map(m))(col, mapping)
        out.append((c["name"], c["title"], cats, fn))
    return out


def action_characteristic(mi, option):
    """completed_action.<option>: Yes / No for participants with any completed action recorded
    (an action without a Y was not completed), no data otherwise."""
    recorded = mi["completed_action__recorded"]
    yes = mi[f"completed_action.{option}"].eq(True)
    return pd.Series(np.where(yes, 1, 2), index=mi.index).where(recorded)


def outcome_rates(outcomes, chars, cat_orders):
    """The staging table `outcome_rates`: each outcome's population and achievers by every
    category of every characteristic, every category listed."""
    populations = [
        (1, "job_outcome", outcomes["is_out_of_work"] & outcomes["is_embedded"], "is_job_start"),
        (2, "sustained_13", outcomes["is_out_of_work"] & outcomes["is_job_start"],
         "is_sustained_13"),
        (3, "progression", ~outcomes["is_out_of_work"] & outcomes["is_embedded"],
         "is_progressed"),
    ]
    rows = []
    for o_order, outcome, member, achieved_col in populations:
        # The population's achieved flags only, not a copy of the whole outcomes frame.
        achieved_flags = outcomes.loc[member, achieved_col].to_numpy()
        for c_order, (name, title, cats, _fn) in enumerate(chars, 1):
            order = cat_orders[name][member.to_numpy()]
            grouped = pd.DataFrame({"k": order.to_numpy(), "a": achieved_flags}).dropna()
            counts = grouped.groupby("k")["a"].agg(["size", "sum"])
            n = int(counts["size"].sum())
            for k, label in cats:
                participants = int(counts["size"].get(k, 0))
                achieved = int(counts["sum"].get(k, 0))
                rows.append({
                    "outcome_order": o_order, "outcome": outcome, "characteristic": name,
                    "characteristic_order": c_order, "title": title, "category_order": k,
                    "category": label, "participants": participants, "achieved": achieved,
                    "rate": achieved / participants if participants else None, "n": n,
                })
    return pd.DataFrame(rows)


def characteristic_counts(chars, cat_orders, name):
    """Participants in each category of one characteristic, with its N (characteristic_counts)."""
    _, _, cats, _ = next(c for c in chars if c[0] == name)
    order = cat_orders[name].dropna()
    counts = order.value_counts()
    n = int(order.size)
    return pd.DataFrame([{
        "characteristic": name, "category_order": k, "category": label,
        "participants": int(counts.get(k, 0)),
        "pct": int(counts.get(k, 0)) / n if n else None, "n": n,
    } for k, label in cats])


def participants_by_cohort(outcomes, study):
    cohorts = sorted(study["cohort"], key=lambda c: c["report_order"])
    counts = outcomes.groupby("payment_group")["participant_id"].nunique()
    n = outcomes["participant_id"].nunique()
    rows = [{"row_order": c["report_order"], "is_total": False, "cohort_code": c["code"],
             "cohort_name": c["name"], "description": c["description"],
             "participants": int(counts.get(c["code"], 0))} for c in cohorts]
    rows.append({"row_order": max(c["report_order"] for c in cohorts) + 1, "is_total": True,
                 "cohort_code": None, "cohort_name": None, "description": None,
                 "participants": n})
    df = pd.DataFrame(rows)
    df["pct"] = df["participants"] / n if n else None
    df["n"] = n
    return df


def claims_performance(vclaims, study):
    milestones = study["milestone"]
    achieved = vclaims.groupby("milestone")["participant_id"].nunique()
    n = vclaims.loc[vclaims["milestone"] == milestones[0]["code"], "participant_id"].nunique()
    rows = []
    for i, m in enumerate(milestones):
        a = int(achieved.get(m["code"], 0))
        # "% of previous" only where the previous milestone pays for exactly the same cohorts.
        prev = milestones[i - 1] if i > 0 else None
        same = prev is not None and set(prev["cohorts"]) == set(m["cohorts"])
        prev_a = int(achieved.get(prev["code"], 0)) if same else None
        target = m.get("target")
        rows.append({
            "milestone_order": i + 1, "milestone_code": m["code"], "milestone_name": m["name"],
            "achieved": a, "target": target,
            "pct_of_target": a / target if target else None,
            "pct_of_registered": a / n if n else None,
            "pct_of_registered_not_reached": (n - a) / n if n else None,
            "pct_of_previous": a / prev_a if prev_a else None,
            "n": n,
        })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# Models: statsmodels Logit on the population each spec defines.

def fit_model(spec, outcomes, cat_orders, chars):
    labels = {name: dict(cats) for name, _t, cats, _f in chars}
    frame = pd.DataFrame({"y": outcomes[spec["outcome"]].astype(float)})
    steps, passing = [], pd.Series(True, index=outcomes.index)
    for kind, step in ([("population", s) for s in spec.get("population", [])]
                       + [("exclusion", s) for s in spec.get("exclude", [])]):
        if "cohorts" in step:
            hit = outcomes["payment_group"].isin(step["cohorts"])
        elif "lots" in step:
            hit = outcomes["lot_code"].isin(step["lots"])
        elif "flag" in step:
            hit = outcomes[step["flag"]] == step.get("value", True)
        else:
            cats = cat_orders[step["characteristic"]].map(labels[step["characteristic"]])
            hit = cats.isin(step["categories"])  # missing data matches no filter
        passing &= hit if kind == "population" else ~hit
        steps.append({"kind": kind, "label": step["label"], "n": int(passing.sum())})
    # Each covariate's levels are the categories present in the population (before listwise
    # deletion), in category order, as evalpipe takes them.
    columns, dummies = ["const"], []
    complete = passing & frame["y"].notna()
    for cov in spec["covariate"]:
        order = cat_orders[cov["characteristic"]]
        complete &= order.notna()
        present = sorted(order[passing].dropna().unique())
        levels = [labels[cov["characteristic"]][k] if cov["characteristic"] in labels
                  else {1: "Yes", 2: "No"}[k] for k in present]
        for k, level in zip(present, levels):
            if level == cov["reference"]:
                continue
            columns.append(f"{cov['name']}[{level}]")
            dummies.append((order, k))
    steps.append({"kind": "complete cases", "n": int(complete.sum())})
    # The design matrix of the complete cases only, filled in place: building it for every
    # participant and then selecting rows would hold several copies of it (GBs at 10M).
    # Column-major, as a DataFrame built from columns is, so the fit sees the same layout.
    rows = complete.to_numpy()
    design = np.empty((int(rows.sum()), len(columns)), order="F")
    design[:, 0] = 1.0
    for j, (order, k) in enumerate(dummies, 1):
        design[:, j] = order.to_numpy()[rows] == k
    X = pd.DataFrame(design, columns=columns, index=outcomes.index[rows], copy=False)
    y = frame["y"][complete]
    t0 = time.perf_counter()
    # Newton–Raphson to a tight tolerance, as evalpipe's IRLS converges: the odds ratios agree
    # far beyond the printed decimals.
    result = sm.Logit(y, X).fit(method="newton", maxiter=100, tol=1e-12, disp=False)
    fit_seconds = time.perf_counter() - t0
    ci = result.conf_int()
    terms = [{
        "term": name,
        "b": float(result.params[name]),
        "se": float(result.bse[name]),
        "p": float(result.pvalues[name]),
        "odds_ratio": float(np.exp(result.params[name])),
        "ci_lower": float(np.exp(ci.loc[name, 0])),
        "ci_upper": float(np.exp(ci.loc[name, 1])),
    } for name in columns]
    return {
        "id": spec["id"], "title": spec["title"], "n": int(complete.sum()),
        "events": int(y.sum()), "steps": steps, "terms": terms,
        "minus_2ll": float(-2 * result.llf), "converged": bool(result.mle_retvals["converged"]),
        "fit_seconds": fit_seconds,
    }


# ----------------------------------------------------------------------------------------------
# One report section.

SECTION = """\
## Job outcomes{% if synthetic %} (synthetic data){% endif %}

Of the {{ "{:,}".format(all_row.participants) }} embedded participants of the out-of-work cohorts,
{{ "{:,}".format(all_row.achieved) }} ({{ "%.0f" % (100 * all_row.rate) }}%) started a job.

| Lot | Participants | Job outcomes | % |
| --- | ---: | ---: | ---: |
{% for r in by_lot %}| {{ r.category }} | {{ "{:,}".format(r.participants) }} | {{ "{:,}".format(r.achieved) }} | {{ "%.0f" % (100 * r.rate) if r.rate is not none else "–" }} |
{% endfor %}

### {{ model.title }} (N = {{ "{:,}".format(model.n) }}, {{ "{:,}".format(model.events) }} events)

| Term | Odds ratio | 95% CI | p |
| --- | ---: | --- | ---: |
{% for t in model.terms if t.term != "const" %}| {{ t.term }} | {{ "%.2f" % t.odds_ratio }} | {{ "%.2f" % t.ci_lower }}–{{ "%.2f" % t.ci_upper }} | {{ "%.3f" % t.p }} |
{% endfor %}"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, type=Path, help="folder of extracts")
    ap.add_argument("--pipeline", required=True, type=Path, help="evalpipe's pipeline/ folder")
    ap.add_argument("--out", required=True, type=Path, help="folder for the results")
    args = ap.parse_args()
    timings = {}
    t_all = t = time.perf_counter()

    study, mi_dict, claims_dict, codes, model_specs = load_config(args.pipeline)
    synthetic = (args.data / "SYNTHETIC.toml").is_file()
    if synthetic:
        key = SYNTHETIC_KEY
    elif os.environ.get("EVALPIPE_PSEUDONYM_KEY"):
        key = os.environ["EVALPIPE_PSEUDONYM_KEY"].strip().encode()
    else:
        sys.exit("python_reference: real extracts need EVALPIPE_PSEUDONYM_KEY")

    # 1. Read and validate. The claims first: checking them takes the most working memory (some
    # 30M rows at 10M participants), best spent before the MI is held too.
    mi_files, claims_file = discover(args.data)
    claims, claims_bad = read_claims(claims_file, claims_dict, codes, study, key)
    mi, mi_bad = read_mi(mi_files, mi_dict, codes, key, keep_flags=["completed_action"])
    timings["read_validate"] = time.perf_counter() - t
    n_participants, n_claims = len(mi), len(claims)
    print(f"python_reference: {n_participants} participants ({mi_bad} rows quarantined), "
          f"{n_claims} claims ({claims_bad} quarantined)", file=sys.stderr)

    # 2. Tabulate. Each frame is deleted once nothing below reads it: at 10M participants
    # the claims, the MI and the category columns are GBs each.
    t = time.perf_counter()
    vclaims = validated_claims(claims, study)
    del claims
    outcomes = participant_outcomes(mi, vclaims, study)
    chars = characteristics(study, codes, mi_dict)
    # A category order is a small whole number or NaN (no data): float32 holds it exactly, in
    # half the memory of float64 (some 25 characteristics × every participant).
    cat_orders = {name: fn(mi).astype("float32") for name, _t, _c, fn in chars}
    for option in ("coaching", "match_skills"):
        cat_orders[f"completed_action.{option}"] = (action_characteristic(mi, option)
                                                    .astype("float32"))
    del mi
    rates = outcome_rates(outcomes, chars, cat_orders)

    def rate_table(outcome, names):
        r = rates[(rates["outcome"] == outcome) & rates["characteristic"].isin(names)]
        r = r.sort_values(["characteristic_order", "category_order"], kind="stable")
        return r[["characteristic", "category_order", "category", "participants", "achieved",
                  "rate", "n"]]

    tables = {
        "outcome_rates": rates,
        "participants_by_lot": characteristic_counts(chars, cat_orders, "lot"),
        "characteristics_sex": characteristic_counts(chars, cat_orders, "sex"),
        "participants_by_cohort": participants_by_cohort(outcomes, study),
        "job_outcome_by_lot": rate_table("job_outcome", ["all", "lot"]),
        "job_outcome_by_sex": rate_table("job_outcome", ["sex"]),
        "job_outcome_by_age": rate_table("job_outcome", ["age_band"]),
        "sustained_13_by_lot": rate_table("sustained_13", ["all", "lot"]),
        "progression_by_lot": rate_table("progression", ["all", "lot"]),
        "claims_performance": claims_performance(vclaims, study),
    }
    del vclaims
    timings["tabulate"] = time.perf_counter() - t

    # 3. Models.
    t = time.perf_counter()
    models = {spec["id"]: fit_model(spec, outcomes, cat_orders, chars) for spec in model_specs}
    timings["models"] = time.perf_counter() - t
    timings["models_fit_only"] = sum(m["fit_seconds"] for m in models.values())

    # 4. Write the results and render the section.
    t = time.perf_counter()
    (args.out / "tables").mkdir(parents=True, exist_ok=True)
    (args.out / "models").mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        # Floats at full precision (repr), so the comparison is of the numbers, not of print.
        df.to_csv(args.out / "tables" / f"{name}.csv", index=False, float_format="%.17g")
    for model_id, m in models.items():
        (args.out / "models" / f"{model_id}.json").write_text(json.dumps(m, indent=2))
    by_lot = tables["job_outcome_by_lot"]
    section = Environment(trim_blocks=False).from_string(SECTION).render(
        synthetic=synthetic,
        all_row=by_lot[by_lot["characteristic"] == "all"].iloc[0],
        by_lot=by_lot[by_lot["characteristic"] == "lot"].to_dict("records"),
        model=models["job_outcome"],
    )
    (args.out / "report_section.md").write_text(section, encoding="utf-8")
    timings["write_render"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
    (args.out / "timings.json").write_text(json.dumps({
        "seconds": timings, "participants": n_participants, "claims": n_claims,
        "quarantined_mi_rows": mi_bad, "quarantined_claims_rows": claims_bad,
        "versions": {"python": sys.version.split()[0], "pandas": pd.__version__,
                     "numpy": np.__version__, "statsmodels": sm.__version__ if hasattr(
                         sm, "__version__") else __import__("statsmodels").__version__},
    }, indent=2))
    print(f"python_reference: done in {timings['total']:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
