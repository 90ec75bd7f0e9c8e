-- table:    enrolment_by_month
-- produces: report Figure 4-1 (participants enrolled each month, and in total, with the first
--           national lockdown marked; section 4.2.1)
-- grain:    one row per calendar month of the MI period (`mi_start` to `mi_end` in
--           pipeline/study.toml), months without enrolments included
-- reads:    participants, periods
-- base (N): all MI participants, by the month of their registration date; n is the total
-- checks:   month unique and consecutive; participants add up to n; cumulative of the last
--           month = n; lockdown_month true for the one month containing `first_lockdown`,
--           after_lockdown for every month that starts after it

with

-- import ------------------------------------------------------------------------------------

registrations as (
    select
        date_trunc('month', registration_date) as month
    from participants
),

periods as (
    select
        mi_start,
        mi_end,
        first_lockdown
    from periods
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
        cast(month as date) as month,
        count(*) as participants
    from registrations
    group by month
),

total as (
    select count(*) as n
    from registrations
)

select
    m.month,
    coalesce(c.participants, 0) as participants,
    sum(coalesce(c.participants, 0)) over (
        order by m.month rows between unbounded preceding and current row
    ) as cumulative,
    m.month = cast(date_trunc('month', p.first_lockdown) as date) as lockdown_month,
    m.month > p.first_lockdown as after_lockdown,
    t.n
from months as m
left join counts as c
    on c.month = m.month
cross join periods as p
cross join total as t
order by m.month
