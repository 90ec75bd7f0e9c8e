-- table:    lot_profiles
-- produces: staging: each lot's participants by every characteristic, the counts behind the
--           "by lot" tables (Table A-6 ethnicity by lot, Table A-41 cohort by lot)
-- grain:    one row per lot × characteristic × category, lots in contract order, every
--           configured category listed
-- reads:    participant_characteristics, characteristic_values, lots
-- base (N): per lot and characteristic, the lot's participants with data for it
-- checks:   (lot_code, characteristic, category) unique; a lot's categories add up to its n

with

-- import ------------------------------------------------------------------------------------

characteristics as (
    select
        lot_code,
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

lots as (
    select
        lot_order,
        lot_code,
        lot_name
    from lots
),

-- steps -------------------------------------------------------------------------------------

counts as (
    select
        lot_code,
        characteristic,
        category,
        count(*) as participants
    from characteristics
    group by lot_code, characteristic, category
),

-- A participant is in at most one category of a characteristic, so a lot's base is the sum
-- of its categories: one pass over the long table, not a second (16 rows per participant).
bases as (
    select
        lot_code,
        characteristic,
        sum(participants) as n
    from counts
    group by lot_code, characteristic
)

select
    l.lot_order,
    l.lot_code,
    l.lot_name,
    c.characteristic,
    c.characteristic_order,
    c.category_order,
    c.category,
    coalesce(k.participants, 0) as participants,
    cast(coalesce(k.participants, 0) as double) / nullif(b.n, 0) as pct,
    coalesce(b.n, 0) as n
from lots as l
cross join categories as c
left join counts as k
    on k.lot_code = l.lot_code
    and k.characteristic = c.characteristic
    and k.category = c.category
left join bases as b
    on b.lot_code = l.lot_code
    and b.characteristic = c.characteristic
order by l.lot_order, c.characteristic_order, c.category_order
