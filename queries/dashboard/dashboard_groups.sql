-- table:    dashboard_groups
-- produces: dashboard packs: participants and their outcomes at the latest refresh, for the
--           programme and each lot, split by payment group (cohort) and the demographics
--           `pipeline/dashboard.toml` lists
-- grain:    one row per area (the programme, then lots in contract order) × breakdown × category,
--           breakdowns in the configured order, categories in their configured order, every
--           category listed (0 when nobody)
-- reads:    latest_participant_outcomes, latest_participant_characteristics,
--           dashboard_breakdowns, characteristic_values, areas
-- base (N): the latest refresh's clean MI participants with data for the breakdown (n, per area
--           and breakdown); outcomes are the MI's completed by validated claims
--           (`participant_outcomes`), each a count of the category's participants
-- checks:   (area_code, characteristic, category) unique; an area's categories add up to its
--           n; each outcome count <= participants

with

-- import ------------------------------------------------------------------------------------

outcomes as (
    select
        place,
        is_embedded,
        is_job_start,
        is_sustained_13,
        is_progressed
    from latest_participant_outcomes
),

characteristics as (
    select
        place,
        lot_code,
        characteristic,
        category
    from latest_participant_characteristics
),

breakdowns as (
    select
        characteristic,
        breakdown_order
    from dashboard_breakdowns
),

categories as (
    select distinct
        characteristic,
        title,
        category_order,
        category
    from characteristic_values
),

areas as (
    select
        area_order,
        area_code,
        area_name,
        lot_code
    from areas
),

-- steps -------------------------------------------------------------------------------------

people as (
    select
        c.lot_code,
        c.characteristic,
        c.category,
        case when o.is_embedded then 1 else 0 end as embedded,
        case when o.is_job_start then 1 else 0 end as job_start,
        case when o.is_sustained_13 then 1 else 0 end as sustained_13,
        case when o.is_progressed then 1 else 0 end as progressed
    from characteristics as c
    inner join breakdowns as b
        on b.characteristic = c.characteristic
    inner join outcomes as o
        on o.place = c.place
),

-- The programme row (`lot_code` null in `areas`) counts every lot's participants.
counts as (
    select
        a.area_code,
        p.characteristic,
        p.category,
        count(*) as participants,
        sum(p.embedded) as embedded,
        sum(p.job_start) as job_starts,
        sum(p.sustained_13) as sustained_13,
        sum(p.progressed) as progressed
    from people as p
    inner join areas as a
        on a.lot_code = p.lot_code or a.lot_code is null
    group by a.area_code, p.characteristic, p.category
),

bases as (
    select
        area_code,
        characteristic,
        sum(participants) as n
    from counts
    group by area_code, characteristic
)

select
    a.area_order,
    a.area_code,
    a.area_name,
    b.breakdown_order,
    c.characteristic,
    c.title,
    c.category_order,
    c.category,
    coalesce(k.participants, 0) as participants,
    coalesce(k.embedded, 0) as embedded,
    coalesce(k.job_starts, 0) as job_starts,
    coalesce(k.sustained_13, 0) as sustained_13,
    coalesce(k.progressed, 0) as progressed,
    cast(coalesce(k.participants, 0) as double) / nullif(s.n, 0) as pct,
    cast(coalesce(k.job_starts, 0) as double) / nullif(k.participants, 0) as job_start_rate,
    coalesce(s.n, 0) as n
from areas as a
cross join breakdowns as b
inner join categories as c
    on c.characteristic = b.characteristic
left join counts as k
    on k.area_code = a.area_code
    and k.characteristic = c.characteristic
    and k.category = c.category
left join bases as s
    on s.area_code = a.area_code
    and s.characteristic = c.characteristic
order by a.area_order, b.breakdown_order, c.category_order
