-- table:    cohort_share_by_month
-- produces: report Figure 4-2 (share of each month's enrolments by cohort; section 4.2.1)
-- grain:    one row per calendar month of the monthly figures (`monthly_from` to `monthly_to` in
--           pipeline/study.toml, ending early at the last month anyone registered in) × cohort
--           in report order, months and cohorts without enrolments included
-- reads:    participants, periods, cohorts
-- base (N): per month, MI participants registered that month with a cohort (n); pct of n;
--           total_n is the figure's N, everyone registered in its months
-- checks:   (month, cohort_code) unique; a month's participants add up to its n; its pct add up
--           to 1 when n > 0; the months' n add up to total_n

with

-- import ------------------------------------------------------------------------------------

periods as (
    select
        monthly_from,
        monthly_to
    from periods
),

registrations as (
    select
        cast(date_trunc('month', registration_date) as date) as month,
        payment_group as cohort_code
    from participants
    cross join periods as p
    where payment_group is not null
        and registration_date >= p.monthly_from
        and registration_date <= p.monthly_to
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
            date_trunc('month', p.monthly_from),
            date_trunc('month', least(p.monthly_to, r.last_month)) + interval '1 month',
            interval '1 month'
        )) as date) as month
    from periods as p
    cross join (select max(month) as last_month from registrations) as r
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
),

total as (
    select count(*) as total_n
    from registrations
)

select
    m.month,
    c.report_order as cohort_order,
    c.cohort_code,
    c.cohort_name,
    coalesce(k.participants, 0) as participants,
    cast(coalesce(k.participants, 0) as double) / nullif(t.n, 0) as pct,
    coalesce(t.n, 0) as n,
    a.total_n
from months as m
cross join cohorts as c
cross join total as a
left join counts as k
    on k.month = m.month
    and k.cohort_code = c.cohort_code
left join month_totals as t
    on t.month = m.month
order by m.month, c.report_order
