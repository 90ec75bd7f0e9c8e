-- table:    claims_payments_by_cohort
-- produces: claims paid by cohort and milestone (context for Figure 2-1 and the payment model,
--           report 1.1.2)
-- grain:    one row per cohort × milestone, cohorts in report order, milestones in programme order
-- reads:    validated_claims, cohorts, milestones, milestone_cohorts
-- base (N): counted (validated) claims
-- checks:   (cohort_code, milestone_code) unique; claims add up to n; no claims where not
--           is_eligible

with

-- import ------------------------------------------------------------------------------------

counted_claims as (
    select
        payment_group as cohort_code,
        milestone as milestone_code,
        amount_gbp
    from validated_claims
),

cohorts as (
    select
        cohort_code,
        cohort_name,
        report_order
    from cohorts
),

milestones as (
    select
        milestone_code,
        milestone_name,
        milestone_order
    from milestones
),

eligible as (
    select
        milestone_code,
        cohort_code
    from milestone_cohorts
),

-- steps -------------------------------------------------------------------------------------

base as (
    select count(*) as n
    from counted_claims
),

sums as (
    select
        cohort_code,
        milestone_code,
        count(*) as claims,
        sum(amount_gbp) as amount_gbp
    from counted_claims
    group by cohort_code, milestone_code
),

-- Every cohort × milestone, so a pair with no claims shows as zero and a claim for a milestone
-- the cohort cannot be paid for stays visible (is_eligible false) instead of being dropped.
grid as (
    select
        c.report_order,
        c.cohort_code,
        c.cohort_name,
        m.milestone_order,
        m.milestone_code,
        m.milestone_name
    from cohorts as c
    cross join milestones as m
)

select
    g.cohort_code,
    g.cohort_name,
    g.milestone_code,
    g.milestone_name,
    e.cohort_code is not null as is_eligible,
    coalesce(s.claims, 0) as claims,
    coalesce(s.amount_gbp, 0) as amount_gbp,
    b.n
from grid as g
left join eligible as e
    on e.milestone_code = g.milestone_code
    and e.cohort_code = g.cohort_code
left join sums as s
    on s.milestone_code = g.milestone_code
    and s.cohort_code = g.cohort_code
cross join base as b
order by g.report_order, g.milestone_order
