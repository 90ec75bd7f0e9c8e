-- table:    cohort_share_by_month
-- produces: report Figure 4-2 (share of each month's enrolments by cohort; section 4.2.1)
-- grain:    one row per calendar month of the MI period × cohort in report order, months and
--           cohorts without enrolments included
-- reads:    participants, periods, cohorts
-- base (N): per month, MI participants registered that month with a cohort (n); pct of n
-- checks:   (month, cohort_code) unique; a month's participants add up to its n; its pct add up
--           to 1 when n > 0

with

-- import ------------------------------------------------------------------------------------

registrations as (
    select
        cast(date_trunc('month', registration_date) as date) as month,
        payment_group as cohort_code
    from participants
    where payment_group is not null
),

periods as (
    select
        mi_start,
        mi_end
    from periods
),

cohorts as (
    select
        cohort_code,
        cohort_name,
        report_order
    from cohorts
),

-- steps -------------------------------------------------------------------------------------

months as (
    select
        cast(unnest(range(
            date_trunc('month', mi_start), date_trunc('month', mi_end) + interval '1 month',
            interval '1 month'
        )) as date) as month
    from periods
),

counts as (
    select
        month,
        cohort_code,
        count(*) as participants
    from registrations
    group by month, cohort_code
),

month_totals as (
    select
        month,
        count(*) as n
    from registrations
    group by month
)

select
    m.month,
    c.report_order as cohort_order,
    c.cohort_code,
    c.cohort_name,
    coalesce(k.participants, 0) as participants,
    cast(coalesce(k.participants, 0) as double) / nullif(t.n, 0) as pct,
    coalesce(t.n, 0) as n
from months as m
cross join cohorts as c
left join counts as k
    on k.month = m.month
    and k.cohort_code = c.cohort_code
left join month_totals as t
    on t.month = m.month
order by m.month, c.report_order
