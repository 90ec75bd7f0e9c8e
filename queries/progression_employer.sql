-- table:    progression_employer
-- produces: report section 2.3 (in-work progressions of the Employed progression cohort at the
--           same or a different employer)
-- grain:    one row per category of `progression_employer`, in code-list order, every one listed
-- reads:    participant_outcomes, participant_characteristics, characteristic_values
-- base (N): embedded participants of the employed cohort who progressed in work and have the
--           employer recorded
-- checks:   category unique; participants add up to n

with

-- import ------------------------------------------------------------------------------------

progressed as (
    select
        place,
        lot_code
    from participant_outcomes
    where not is_out_of_work
        and is_embedded
        and is_progressed
),

employers as (
    select
        place,
        category
    from participant_characteristics
    where characteristic = 'progression_employer'
),

categories as (
    select distinct
        category_order,
        category
    from characteristic_values
    where characteristic = 'progression_employer'
),

-- steps -------------------------------------------------------------------------------------

counts as (
    select
        e.category,
        count(*) as participants
    from progressed as p
    inner join employers as e
        on e.place = p.place
    group by e.category
)

select
    c.category_order,
    c.category,
    coalesce(k.participants, 0) as participants,
    cast(coalesce(k.participants, 0) as double)
        / nullif(sum(coalesce(k.participants, 0)) over (), 0) as pct,
    sum(coalesce(k.participants, 0)) over () as n
from categories as c
left join counts as k
    on k.category = c.category
order by c.category_order
