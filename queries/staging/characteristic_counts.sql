-- table:    characteristic_counts
-- produces: staging: participants in each category of every characteristic, the counts behind
--           report 2.2 (Tables A-3 to A-15), Table A-40 and the before/after-lockdown share
-- grain:    one row per characteristic × category, every configured category listed (zero
--           when no participant is in it), characteristics and categories in report order
-- reads:    participant_characteristics, characteristic_values
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

characteristics as (
    select
        characteristic,
        category
    from participant_characteristics
),

-- steps -------------------------------------------------------------------------------------

counts as (
    select
        characteristic,
        category,
        count(*) as participants
    from characteristics
    group by characteristic, category
),

bases as (
    select
        characteristic,
        count(*) as n
    from characteristics
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
