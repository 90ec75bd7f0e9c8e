-- table:    claims_performance
-- produces: report Figure 2-1 (progress towards programme targets) and the claims figures of
--           2.2–2.3 (registered, embedded and not embedding, job starts, sustainment, progression)
-- grain:    one row per payment milestone, in programme order
-- reads:    validated_claims, milestones, milestone_cohorts
-- base (N): participants with a counted claim for the first milestone (registration); the base
--           of pct_of_target is the milestone's target; of pct_of_previous the participants
--           achieving the previous milestone in programme order, where both are paid for the
--           same cohorts (13-week sustainment of the job starts; none for the job start, which
--           the employed cohort among the embedded cannot claim, nor for in-work progression,
--           which it can and 52-week sustainment it cannot)
-- checks:   milestone_code unique; achieved <= n; pct_of_target null exactly when target is;
--           pct_of_previous null for the first milestone and where the cohorts differ

with

-- import ------------------------------------------------------------------------------------

counted_claims as (
    select
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

milestone_cohorts as (
    select
        milestone_code,
        cohort_code
    from milestone_cohorts
),

-- steps -------------------------------------------------------------------------------------

-- Participants, not claims: a participant is one achievement even if a claim were duplicated.
-- A participant has at most one counted claim per milestone (`validated_claims`' checks), so
-- the claims are the participants: counting them needs no set of every participant.
achieved as (
    select
        milestone_code,
        count(*) as achieved
    from counted_claims
    group by milestone_code
),

cohort_counts as (
    select
        milestone_code,
        count(*) as cohorts
    from milestone_cohorts
    group by milestone_code
),

-- A milestone is a step from the one before it in programme order when both are paid for the
-- same cohorts: its achievers are then a share of that one's, all of whom could reach it.
follows as (
    select
        m.milestone_code,
        p.milestone_code as previous_code
    from milestones as m
    inner join milestones as p
        on p.milestone_order = m.milestone_order - 1
    inner join milestone_cohorts as mc
        on mc.milestone_code = m.milestone_code
    left join milestone_cohorts as pc
        on pc.milestone_code = p.milestone_code
        and pc.cohort_code = mc.cohort_code
    inner join cohort_counts as k
        on k.milestone_code = p.milestone_code
    group by m.milestone_code, p.milestone_code, k.cohorts
    having count(pc.cohort_code) = count(mc.cohort_code)
        and count(mc.cohort_code) = k.cohorts
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
),

-- The previous milestone's count and the base from the same rows by window, not by reading
-- per_milestone (and the claims under it) again: the engine computes a CTE once per reference.
-- The base, participants with a counted claim for the first milestone, is that milestone's
-- achieved: registration is first in programme order, and everyone who reached a later one
-- registered first.
with_previous as (
    select
        p.milestone_order,
        p.milestone_code,
        p.milestone_name,
        p.achieved,
        p.target,
        case
            when lag(p.milestone_code) over (order by p.milestone_order) = f.previous_code
                then lag(p.achieved) over (order by p.milestone_order)
        end as previous_achieved,
        coalesce(first_value(p.achieved) over (order by p.milestone_order), 0) as n
    from per_milestone as p
    left join follows as f
        on f.milestone_code = p.milestone_code
)

select
    p.milestone_order,
    p.milestone_code,
    p.milestone_name,
    p.achieved,
    p.target,
    cast(p.achieved as double) / nullif(p.target, 0) as pct_of_target,
    cast(p.achieved as double) / nullif(p.n, 0) as pct_of_registered,
    cast(p.n - p.achieved as double) / nullif(p.n, 0) as pct_of_registered_not_reached,
    cast(p.achieved as double) / nullif(p.previous_achieved, 0) as pct_of_previous,
    p.n
from with_previous as p
order by p.milestone_order
