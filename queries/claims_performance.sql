-- table:    claims_performance
-- produces: report Figure 2-1 (progress towards programme targets) and the claims figures of
--           2.2–2.3 (registered, embedded and not embedding, job starts, sustainment, progression)
-- grain:    one row per payment milestone, in programme order
-- reads:    validated_claims, milestones
-- base (N): participants with a counted claim for the first milestone (registration); the base
--           of pct_of_target is the milestone's target
-- checks:   milestone_code unique; achieved <= n; pct_of_target null exactly when target is

with

-- import ------------------------------------------------------------------------------------

counted_claims as (
    select
        participant_id,
        milestone as milestone_code
    from validated_claims
),

milestones as (
    select
        milestone_code,
        milestone_name,
        milestone_order,
        target
    from milestones
),

-- steps -------------------------------------------------------------------------------------

-- Participants, not claims: a participant is one achievement even if a claim were duplicated.
achieved as (
    select
        milestone_code,
        count(distinct participant_id) as achieved
    from counted_claims
    group by milestone_code
),

-- Registration is the first milestone in programme order; everyone who reached a later one
-- registered first.
base as (
    select count(distinct cc.participant_id) as n
    from counted_claims as cc
    inner join milestones as m
        on m.milestone_code = cc.milestone_code
    where m.milestone_order = (select min(milestone_order) from milestones)
),

per_milestone as (
    select
        m.milestone_order,
        m.milestone_code,
        m.milestone_name,
        coalesce(a.achieved, 0) as achieved,
        m.target
    from milestones as m
    left join achieved as a
        on a.milestone_code = m.milestone_code
)

select
    p.milestone_order,
    p.milestone_code,
    p.milestone_name,
    p.achieved,
    p.target,
    cast(p.achieved as double) / nullif(p.target, 0) as pct_of_target,
    cast(p.achieved as double) / nullif(b.n, 0) as pct_of_registered,
    cast(b.n - p.achieved as double) / nullif(b.n, 0) as pct_of_registered_not_reached,
    b.n
from per_milestone as p
cross join base as b
order by p.milestone_order
