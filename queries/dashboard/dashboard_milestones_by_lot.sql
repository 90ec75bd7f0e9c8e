-- table:    dashboard_milestones_by_lot
-- produces: dashboard packs: each lot's payment milestones at each refresh against its share of
--           the programme target, and the change since the refresh before
-- grain:    one row per refresh × lot × milestone, refreshes in date order, lots in contract
--           order, milestones in programme order; every combination listed (0 when none)
-- reads:    refresh_validated_claims, refreshes, lots, milestones
-- base (N): each refresh's validated claims counted by the lots' cut-offs (its
--           `validated_claims`); a lot's target is the programme target pro rata to the lot's
--           contract value (Table 1-1), to the nearest whole claim — the programme
--           publishes no target per lot; its profile likewise
-- checks:   (refresh_order, lot_code, milestone_code) unique; a refresh's lots add up to its
--           `dashboard_headline` achieved; change null on the first refresh

with

-- import ------------------------------------------------------------------------------------

claims as (
    select
        refresh_order,
        lot_code,
        milestone
    from refresh_validated_claims
),

refreshes as (
    select
        refresh_order,
        refresh,
        profile_share
    from refreshes
),

lots as (
    select
        lot_order,
        lot_code,
        lot_name,
        lot_value_gbp
    from lots
),

milestones as (
    select
        milestone_order,
        milestone_code,
        milestone_name,
        target
    from milestones
),

-- steps -------------------------------------------------------------------------------------

counts as (
    select
        refresh_order,
        lot_code,
        milestone as milestone_code,
        count(*) as achieved
    from claims
    group by refresh_order, lot_code, milestone
),

shares as (
    select
        lot_code,
        cast(lot_value_gbp as double) / sum(cast(lot_value_gbp as double)) over () as value_share
    from lots
),

grid as (
    select
        r.refresh_order,
        r.refresh,
        r.profile_share,
        l.lot_order,
        l.lot_code,
        l.lot_name,
        m.milestone_order,
        m.milestone_code,
        m.milestone_name,
        cast(round(m.target * s.value_share) as bigint) as lot_target,
        cast(round(m.target * s.value_share * r.profile_share) as bigint) as lot_profile,
        coalesce(c.achieved, 0) as achieved
    from refreshes as r
    cross join lots as l
    cross join milestones as m
    join shares as s
        on s.lot_code = l.lot_code
    left join counts as c
        on c.refresh_order = r.refresh_order
        and c.lot_code = l.lot_code
        and c.milestone_code = m.milestone_code
)

select
    refresh_order,
    refresh,
    lot_order,
    lot_code,
    lot_name,
    milestone_order,
    milestone_code,
    milestone_name,
    achieved,
    achieved - lag(achieved) over (
        partition by lot_code, milestone_code order by refresh_order
    ) as change,
    lot_target,
    lot_profile,
    cast(achieved as double) / nullif(lot_target, 0) as pct_of_target,
    cast(achieved as double) / nullif(lot_profile, 0) as pct_of_profile
from grid
order by refresh_order, lot_order, milestone_order
