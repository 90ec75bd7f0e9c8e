-- table:    participants_by_cohort
-- produces: report Table 2-1 (total number of participants engaged, by cohort)
-- grain:    one row per cohort in report order, then one total row (is_total)
-- reads:    participant_outcomes, cohorts
-- base (N): MI participants with a cohort (payment group)
-- checks:   cohort_code unique among cohort rows; cohort rows add up to the total row;
--           total pct = 1; n equal on every row

with

-- import ------------------------------------------------------------------------------------

participants as (
    select
        participant_id,
        payment_group as cohort_code
    from participant_outcomes
    where payment_group is not null
),

cohorts as (
    select
        cohort_code,
        cohort_name,
        description,
        report_order
    from cohorts
),

-- steps -------------------------------------------------------------------------------------

base as (
    select count(distinct participant_id) as n
    from participants
),

by_cohort as (
    select
        cohort_code,
        count(distinct participant_id) as participants
    from participants
    group by cohort_code
),

-- Every cohort gets a row, engaged or not, so the table always has the report's shape.
cohort_rows as (
    select
        c.report_order as row_order,
        false as is_total,
        c.cohort_code,
        c.cohort_name,
        c.description,
        coalesce(b.participants, 0) as participants
    from cohorts as c
    left join by_cohort as b
        on b.cohort_code = c.cohort_code
),

-- The total is N itself, not the sum of the rows: a cohort code missing from the study would
-- then show as a gap between the two (a failed check), not vanish.
total_row as (
    select
        (select max(report_order) from cohorts) + 1 as row_order,
        true as is_total,
        cast(null as varchar) as cohort_code,
        cast(null as varchar) as cohort_name,
        cast(null as varchar) as description,
        base.n as participants
    from base
),

all_rows as (
    select * from cohort_rows
    union all
    select * from total_row
)

select
    r.row_order,
    r.is_total,
    r.cohort_code,
    r.cohort_name,
    r.description,
    r.participants,
    cast(r.participants as double) / nullif(r.n, 0) as pct,
    r.n
from (
    -- The base from the total row beside every row, not a second read of `base`: the engine
    -- would count the distinct participants of the whole extract again.
    select
        *,
        coalesce(max(case when is_total then participants end) over (), 0) as n
    from all_rows
) as r
order by r.row_order
