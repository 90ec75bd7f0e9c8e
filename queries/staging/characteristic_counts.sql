-- table:    characteristic_counts
-- produces: staging: participants in each category of every characteristic, the counts behind
--           report 2.2 (Tables A-3 to A-15), Table A-40 and the before/after-lockdown share
-- grain:    one row per characteristic × category, every configured category listed (zero
--           when no participant is in it), characteristics and categories in report order
-- reads:    lot_profiles, characteristic_values
-- base (N): per characteristic, participants with data for it (the report's N convention)
-- checks:   (characteristic, category) unique; categories of a characteristic add up to n

with

-- import ------------------------------------------------------------------------------------

categories as (
    select distinct
        characteristic,
        characteristic_order,
        title,
        category_order,
        category
    from characteristic_values
),

-- Every participant is in exactly one lot (ingest checks each row's lot code against the
-- study's lots), so the programme's counts are the lots' counts added up: a read of a table of
-- a few hundred rows, not a second pass over the 16 rows per participant that lot_profiles
-- has already counted.
lot_counts as (
    select
        characteristic,
        category,
        participants
    from lot_profiles
),

-- steps -------------------------------------------------------------------------------------

counts as (
    select
        characteristic,
        category,
        sum(participants) as participants
    from lot_counts
    group by characteristic, category
),

bases as (
    select
        characteristic,
        sum(participants) as n
    from lot_counts
    group by characteristic
)

select
    c.characteristic,
    c.characteristic_order,
    c.title,
    c.category_order,
    c.category,
    coalesce(k.participants, 0) as participants,
    cast(coalesce(k.participants, 0) as double) / nullif(b.n, 0) as pct,
    coalesce(b.n, 0) as n
from categories as c
left join counts as k
    on k.characteristic = c.characteristic
    and k.category = c.category
left join bases as b
    on b.characteristic = c.characteristic
order by c.characteristic_order, c.category_order
