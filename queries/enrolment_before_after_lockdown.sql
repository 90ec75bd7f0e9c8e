-- table:    enrolment_before_after_lockdown
-- produces: report section 4.2.1 ("Two in every five participants in the MI dataset (40%) were
--           enrolled after March 2020", N = 3,922: Figure 4-1's participants)
-- grain:    one row per category of `enrolment_period`, in report order, every category listed
-- reads:    participant_characteristics, characteristic_values, periods, participants
-- base (N): MI participants registered in the months of the monthly figures (`monthly_from` to
--           `monthly_to`, as enrolment_by_month); the split is `after_lockdown_from`
-- checks:   (characteristic, category) unique; participants add up to n; n equals
--           enrolment_by_month's n

with

-- import ------------------------------------------------------------------------------------

periods as (
    select
        monthly_from,
        monthly_to
    from periods
),

in_figure as (
    select place
    from participants
    cross join periods as p
    where registration_date >= p.monthly_from
        and registration_date <= p.monthly_to
),

categories as (
    select distinct
        characteristic,
        characteristic_order,
        category_order,
        category
    from characteristic_values
    where characteristic = 'enrolment_period'
),

periods_of_participants as (
    select
        c.category
    from participant_characteristics as c
    inner join in_figure as f
        on f.place = c.place
    where c.characteristic = 'enrolment_period'
),

-- steps -------------------------------------------------------------------------------------

counts as (
    select
        category,
        count(*) as participants
    from periods_of_participants
    group by category
)

-- The base beside every row is the sum of the categories' counts (a participant has one
-- enrolment period), not a count of periods_of_participants: read twice, that CTE (a scan
-- of participant_characteristics) would be computed twice by the engine.
select
    characteristic,
    category_order,
    category,
    participants,
    cast(participants as double) / nullif(n, 0) as pct,
    n
from (
    select
        k.characteristic,
        k.characteristic_order,
        k.category_order,
        k.category,
        coalesce(c.participants, 0) as participants,
        coalesce(sum(coalesce(c.participants, 0)) over (), 0) as n
    from categories as k
    left join counts as c
        on c.category = k.category
)
order by characteristic_order, category_order
