-- table:    enrolment_by_month
-- produces: report Figure 4-1 (participants enrolled each month, and in total, with the first
--           national lockdown marked; section 4.2.1)
-- grain:    one row per calendar month of the monthly figures (`monthly_from` to `monthly_to`
--           in pipeline/study.toml, ending early at the last month anyone registered in),
--           months without enrolments included; each with its calendar year and quarter, so
--           that the months of a year ("in 2019") or of a quarter (Q1 2020, the figure's axis)
--           can be selected
-- reads:    participants, periods
-- base (N): MI participants registered in those months (the figure's N: the first months of
--           the MI, before `monthly_from`, are outside it); n is the total
-- checks:   month unique and consecutive; year and quarter those of month; participants add
--           up to n; cumulative of the last month = n; lockdown_month true for the one month
--           containing `first_lockdown`, after_lockdown for every month from
--           `after_lockdown_from`

with

-- import ------------------------------------------------------------------------------------

periods as (
    select
        monthly_from,
        monthly_to,
        first_lockdown,
        after_lockdown_from
    from periods
),

registrations as (
    select
        cast(date_trunc('month', registration_date) as date) as month
    from participants
    cross join periods as p
    where registration_date >= p.monthly_from
        and registration_date <= p.monthly_to
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
    cast(date_part('year', m.month) as bigint) as year,
    cast(date_part('quarter', m.month) as bigint) as quarter,
    coalesce(c.participants, 0) as participants,
    sum(coalesce(c.participants, 0)) over (
        order by m.month rows between unbounded preceding and current row
    ) as cumulative,
    m.month = cast(date_trunc('month', p.first_lockdown) as date) as lockdown_month,
    m.month >= p.after_lockdown_from as after_lockdown,
    t.n
from months as m
left join counts as c
    on c.month = m.month
cross join periods as p
cross join total as t
order by m.month
