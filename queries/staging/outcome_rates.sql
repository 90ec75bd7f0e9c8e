-- table:    outcome_rates
-- produces: staging: the outcome rates of report 2.3 by every characteristic — job outcomes of
--           embedded out-of-work participants (Tables A-16, A-18 to A-23), 13-week sustainment
--           of those who started a job (A-17, A-25 to A-30) and in-work progression of the
--           embedded employed cohort (A-33 to A-38 and by provider)
-- grain:    one row per outcome × characteristic × category, every configured category listed
-- reads:    participant_outcomes, participant_characteristics, characteristic_values
-- base (N): per outcome and characteristic, participants in the outcome's population with data
--           for the characteristic; `participants` is that base within the category
-- checks:   (outcome, characteristic, category) unique; 0 <= achieved <= participants; the
--           categories' participants add up to n

with

-- import ------------------------------------------------------------------------------------

outcomes as (
    select
        place,
        is_out_of_work,
        is_embedded,
        is_job_start,
        is_sustained_13,
        is_progressed
    from participant_outcomes
),

characteristics as (
    select
        place,
        characteristic,
        category
    from participant_characteristics
),

categories as (
    select distinct
        characteristic,
        characteristic_order,
        title,
        category_order,
        category
    from characteristic_values
),

-- steps -------------------------------------------------------------------------------------

-- Each outcome's population and whether each member achieved it.
populations as (
    select 'job_outcome' as outcome, place,
        is_job_start as achieved
    from outcomes
    where is_out_of_work and is_embedded
    union all
    select 'sustained_13', place, is_sustained_13
    from outcomes
    where is_out_of_work and is_job_start
    union all
    select 'progression', place, is_progressed
    from outcomes
    where not is_out_of_work and is_embedded
),

-- Listed, not taken from `populations`, so an outcome nobody is in still has its rows.
outcome_list as (
    select *
    from (values (1, 'job_outcome'), (2, 'sustained_13'), (3, 'progression'))
        as o (outcome_order, outcome)
),

by_category as (
    select
        p.outcome,
        c.characteristic,
        c.category,
        count(*) as participants,
        sum(case when p.achieved then 1 else 0 end) as achieved
    from populations as p
    inner join characteristics as c
        on c.place = p.place
    group by p.outcome, c.characteristic, c.category
)

-- The base is the sum over the characteristic's categories, every one listed: a window over
-- this grid, not a second read of by_category, which the engine would compute again.
select
    o.outcome_order,
    o.outcome,
    c.characteristic,
    c.characteristic_order,
    c.title,
    c.category_order,
    c.category,
    coalesce(k.participants, 0) as participants,
    coalesce(k.achieved, 0) as achieved,
    cast(k.achieved as double) / nullif(k.participants, 0) as rate,
    coalesce(sum(k.participants) over (partition by o.outcome, c.characteristic), 0) as n
from outcome_list as o
cross join categories as c
left join by_category as k
    on k.outcome = o.outcome
    and k.characteristic = c.characteristic
    and k.category = c.category
order by o.outcome_order, c.characteristic_order, c.category_order
