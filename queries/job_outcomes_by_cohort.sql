-- table:    job_outcomes_by_cohort
-- produces: report Figure 2.3 (job outcomes by cohort: participants reaching each milestone and
--           the conversion rate at each step, from the MI completed by validated claims)
-- grain:    one row per out-of-work cohort (report order) × milestone from registration to
--           52-week sustainment (programme order), every pair listed
-- reads:    participant_outcomes, cohorts, milestones
-- base (N): per cohort, its MI participants (n); pct_of_registered = participants / n;
--           pct_of_previous = participants / participants at the previous milestone
-- checks:   (cohort_code, milestone_code) unique; participants never rise along a cohort's
--           milestones except where the MI has a later milestone without an earlier one

with

-- import ------------------------------------------------------------------------------------

outcomes as (
    select
        participant_id,
        payment_group as cohort_code,
        is_embedded,
        is_job_start,
        is_sustained_13,
        is_sustained_26,
        is_sustained_52
    from participant_outcomes
    where is_out_of_work
),

cohorts as (
    select
        cohort_code,
        cohort_name,
        report_order
    from cohorts
    where out_of_work
),

milestones as (
    select
        milestone_code,
        milestone_name,
        milestone_order
    from milestones
    where milestone_code in ('REG', 'EMB', 'JS', 'S13', 'S26', 'S52')
),

-- steps -------------------------------------------------------------------------------------

-- Each participant's milestones as rows; every MI participant is registered.
reached as (
    select participant_id, cohort_code, 'REG' as milestone_code from outcomes
    union all
    select participant_id, cohort_code, 'EMB' from outcomes where is_embedded
    union all
    select participant_id, cohort_code, 'JS' from outcomes where is_job_start
    union all
    select participant_id, cohort_code, 'S13' from outcomes where is_sustained_13
    union all
    select participant_id, cohort_code, 'S26' from outcomes where is_sustained_26
    union all
    select participant_id, cohort_code, 'S52' from outcomes where is_sustained_52
),

counts as (
    select
        cohort_code,
        milestone_code,
        count(*) as participants
    from reached
    group by cohort_code, milestone_code
),

grid as (
    select
        c.report_order as cohort_order,
        c.cohort_code,
        c.cohort_name,
        m.milestone_order,
        m.milestone_code,
        m.milestone_name,
        coalesce(k.participants, 0) as participants
    from cohorts as c
    cross join milestones as m
    left join counts as k
        on k.cohort_code = c.cohort_code
        and k.milestone_code = m.milestone_code
)

select
    cohort_order,
    cohort_code,
    cohort_name,
    milestone_order,
    milestone_code,
    milestone_name,
    participants,
    cast(participants as double)
        / nullif(first_value(participants) over cohort_milestones, 0) as pct_of_registered,
    cast(participants as double)
        / nullif(lag(participants) over cohort_milestones, 0) as pct_of_previous,
    first_value(participants) over cohort_milestones as n
from grid
window cohort_milestones as (partition by cohort_code order by milestone_order)
order by cohort_order, milestone_order
