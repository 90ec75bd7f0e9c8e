-- table:    dashboard_findings
-- produces: dashboard packs: the latest refresh's validation findings per lot, by rule and
--           column, to discuss with the provider (the per-lot validation reports summarised)
-- grain:    one row per lot × rule × column with a finding, lots in contract order, then most
--           rows first, then rule and column
-- reads:    latest_findings, areas
-- base (N): rows of the lot's files in the latest refresh quarantined (or, for a file-level
--           finding, the file) by each rule; counts of records, not of people's
--           characteristics, and no value of any row
-- checks:   (lot_code, rule, column_name) unique; rows > 0

with

-- import ------------------------------------------------------------------------------------

findings as (
    select
        lot_code,
        rule,
        column_name
    from latest_findings
),

areas as (
    select
        area_order,
        area_code,
        area_name,
        lot_code
    from areas
    where lot_code is not null
),

-- steps -------------------------------------------------------------------------------------

counts as (
    select
        lot_code,
        rule,
        column_name,
        count(*) as rows_found
    from findings
    group by lot_code, rule, column_name
)

select
    a.area_order,
    a.area_code,
    a.area_name,
    c.rule,
    c.column_name,
    c.rows_found
from counts as c
inner join areas as a
    on a.lot_code = c.lot_code
order by a.area_order, c.rows_found desc, c.rule, c.column_name
