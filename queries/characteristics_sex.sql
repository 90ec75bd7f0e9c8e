-- table:    characteristics_sex
-- produces: report Table A-3 (participants by sex; section 2.2)
-- grain:    one row per category of `sex`, in report order, every category listed
-- reads:    characteristic_counts, participants, codes, decisions
-- base (N): participants recorded as female or male; with the decision `sex_base` =
--           `with_other`, also those recorded as Other
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n
--           (to less than it under `with_other`)

with

-- import ------------------------------------------------------------------------------------

sex as (
    select
        characteristic,
        characteristic_order,
        category_order,
        category,
        participants,
        n
    from characteristic_counts
    where characteristic = 'sex'
),

-- Whether the base also counts the participants recorded as Other (decision `sex_base`,
-- pipeline/decisions.toml): 1 or 0, one row whether or not the study makes the decision.
with_other as (
    select
        coalesce(max(case when choice = 'with_other' then 1 end), 0) as counted
    from decisions
    where decision = 'sex_base'
),

-- The gender codes the data tool labels Other: outside the `sex` grouping, like Prefer not to
-- say, so no category of the table.
other_codes as (
    select
        code
    from codes
    where code_list = 'gender'
        and label = 'Other'
),

-- logic -------------------------------------------------------------------------------------

other as (
    select
        count(*) as participants
    from other_codes as c
    inner join participants as p
        on p.gender = c.code
),

added as (
    select
        w.counted * o.participants as participants
    from with_other as w
    cross join other as o
)

select
    s.characteristic,
    s.category_order,
    s.category,
    s.participants,
    cast(s.participants as double) / nullif(s.n + a.participants, 0) as pct,
    s.n + a.participants as n
from sex as s
cross join added as a
order by s.characteristic_order, s.category_order
