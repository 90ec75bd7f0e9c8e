-- table:    progression_employer_by_lot
-- produces: report section 4.5.1 (in-work progressions at the same or a different employer, by
--           provider: "two providers had only recorded cases where progress had been at the
--           same employer, and two providers where progress was at a different employer")
-- grain:    one row per category of `all` then of `lot` × category of `progression_employer`,
--           in report order, every one listed
-- reads:    participant_outcomes, participant_characteristics, characteristic_values
-- base (N): per category (all participants, or a lot), embedded participants of the employed
--           cohort who progressed in work with the employer recorded (progression_employer's
--           base); `participants` progressed at this employer type; lots_only_item counts the
--           category's lots whose every recorded progression was of this type (1 or 0 for a
--           lot, the lots of the programme for all participants; a lot with none recorded
--           counts for no type)
-- checks:   (characteristic, category, item) unique; a category's participants add up to its
--           n; lots_only_item of all participants = the sum of the lots'; a lot's
--           lots_only_item is 1 for at most one type

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
        category as item
    from participant_characteristics
    where characteristic = 'progression_employer'
),

-- The categories of `all` and `lot`, each with the lots it is made of.
category_lots as (
    select distinct
        characteristic,
        characteristic_order,
        category_order,
        category,
        code as lot_code
    from characteristic_values
    where characteristic in ('all', 'lot')
),

items as (
    select distinct
        category_order as item_order,
        category as item
    from characteristic_values
    where characteristic = 'progression_employer'
),

-- steps -------------------------------------------------------------------------------------

recorded as (
    select
        p.lot_code,
        e.item
    from progressed as p
    inner join employers as e
        on e.place = p.place
),

-- Counted once, by lot and type, and everything below from those few rows a lot: a CTE read
-- twice is computed twice by the engine, and `recorded` scans the 16 rows per participant of
-- participant_characteristics. A lot records only one type when all its recorded progressions
-- are of it, that is when the type's count is the lot's whole count (a participant has one
-- employer type).
lot_counts as (
    select
        lot_code,
        item,
        count(*) as participants
    from recorded
    group by lot_code, item
),

lot_types as (
    select
        lot_code,
        item,
        participants,
        participants = sum(participants) over (partition by lot_code) as is_only_item
    from lot_counts
),

counts as (
    select
        l.characteristic,
        l.category,
        t.item,
        sum(t.participants) as participants,
        sum(case when t.is_only_item then 1 else 0 end) as lots
    from lot_types as t
    inner join category_lots as l
        on l.lot_code = t.lot_code
    group by l.characteristic, l.category, t.item
),

categories as (
    select distinct
        characteristic,
        characteristic_order,
        category_order,
        category
    from category_lots
)
,

-- Every category × type, with the category's base beside it: the sum of its types' counts.
counted as (
    select
        c.characteristic,
        c.characteristic_order,
        c.category_order,
        c.category,
        i.item_order,
        i.item,
        coalesce(k.participants, 0) as participants,
        coalesce(
            sum(coalesce(k.participants, 0)) over (partition by c.characteristic, c.category),
            0
        ) as n,
        coalesce(k.lots, 0) as lots_only_item
    from categories as c
    cross join items as i
    left join counts as k
        on k.characteristic = c.characteristic
        and k.category = c.category
        and k.item = i.item
)

select
    characteristic,
    category_order,
    category,
    item_order,
    item,
    participants,
    cast(participants as double) / nullif(n, 0) as pct,
    n,
    lots_only_item
from counted
order by characteristic_order, category_order, item_order
