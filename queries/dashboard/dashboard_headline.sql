-- table:    dashboard_headline
-- produces: dashboard packs: the payment milestones at each refresh against the programme's
--           target and its profile (Figure 2-1, refresh by refresh), and the change since the
--           refresh before
-- grain:    one row per refresh × milestone, refreshes in date order, milestones in programme
--           order
-- reads:    refresh_claims_performance, refreshes
-- base (N): each refresh's own `claims_performance`: validated claims counted by the lots'
--           cut-offs; profile = target × the share of the delivery period elapsed at the
--           refresh's extract date (`pipeline/dashboard.toml`), to the nearest whole claim
-- checks:   (refresh_order, milestone_code) unique; achieved equals the run's
--           claims_performance; change null on the first refresh

with

-- import ------------------------------------------------------------------------------------

performance as (
    select
        refresh_order,
        milestone_order,
        milestone_code,
        milestone_name,
        achieved,
        target
    from refresh_claims_performance
),

refreshes as (
    select
        refresh_order,
        refresh,
        profile_share
    from refreshes
),

-- steps -------------------------------------------------------------------------------------

profiled as (
    select
        r.refresh_order,
        r.refresh,
        p.milestone_order,
        p.milestone_code,
        p.milestone_name,
        p.achieved,
        p.target,
        cast(round(p.target * r.profile_share) as bigint) as profile
    from performance as p
    join refreshes as r
        on r.refresh_order = p.refresh_order
)

select
    refresh_order,
    refresh,
    milestone_order,
    milestone_code,
    milestone_name,
    achieved,
    achieved - lag(achieved) over (
        partition by milestone_code order by refresh_order
    ) as change,
    target,
    profile,
    cast(achieved as double) / nullif(target, 0) as pct_of_target,
    cast(achieved as double) / nullif(profile, 0) as pct_of_profile
from profiled
order by refresh_order, milestone_order
