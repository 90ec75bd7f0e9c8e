-- table:    participant_outcomes
-- produces: staging: each MI participant's outcomes, completed from counted claims (report 1.3:
--           validated claims "were matched to the MI data to facilitate the completion and
--           accuracy of the employment outcomes data")
-- grain:    one row per MI participant, in the participants' order in the extracts (`place`),
--           so the models merge it with the characteristics without a sort or a hash table of
--           every participant
-- reads:    participants, validated_claims, cohorts, decisions
-- base (N): all clean MI participants
-- checks:   participant_id not null, unique; each is_ flag is true exactly when its date is
--           set; a combined date is the counted claim's date where there is one, else the MI's
-- joins:    as written: each join holds the side written first (the decision, the claim dates,
--           the cohorts), so the participants stream through in their order

with

-- import ------------------------------------------------------------------------------------

mi as (
    select
        -- ids
        participant_id,
        lot_code,
        payment_group,
        -- dates
        registration_date,
        place,
        embedded_date as mi_embedded_date,
        job_start_date as mi_job_start_date,
        sustained_13_date as mi_sustained_13_date,
        sustained_26_date as mi_sustained_26_date,
        sustained_52_date as mi_sustained_52_date,
        progression_date as mi_progression_date
    from participants
),

counted_claims as (
    select
        lot_code,
        participant_id,
        milestone,
        milestone_date
    from validated_claims
),

cohorts as (
    select
        cohort_code,
        out_of_work
    from cohorts
),

-- Whether the validated claims complete the MI's outcomes (decision `outcomes_source`,
-- pipeline/decisions.toml): with `mi_only` no claim is matched.
outcomes_source as (
    select
        choice
    from decisions
    where decision = 'outcomes_source'
),

-- steps -------------------------------------------------------------------------------------

-- One row per claimant, a date column per milestone. Ingest keeps at most one counted claim per
-- participant and milestone, so min() only folds rows together, it never chooses.
claim_dates as (
    select
        lot_code,
        participant_id,
        min(case when milestone = 'EMB' then milestone_date end) as claim_embedded_date,
        min(case when milestone = 'JS' then milestone_date end) as claim_job_start_date,
        min(case when milestone = 'S13' then milestone_date end) as claim_sustained_13_date,
        min(case when milestone = 'S26' then milestone_date end) as claim_sustained_26_date,
        min(case when milestone = 'S52' then milestone_date end) as claim_sustained_52_date,
        min(case when milestone = 'PROG' then milestone_date end) as claim_progression_date
    from outcomes_source as d
    cross join counted_claims
    where d.choice <> 'mi_only'
    group by lot_code, participant_id
),

-- A claim matches an MI row of the same lot: pseudonyms are lot-scoped already, the lot in the
-- join keeps that true even if they were not.
matched as (
    select
        mi.*,
        cd.participant_id is not null as is_claims_matched,
        cd.claim_embedded_date,
        cd.claim_job_start_date,
        cd.claim_sustained_13_date,
        cd.claim_sustained_26_date,
        cd.claim_sustained_52_date,
        cd.claim_progression_date
    -- The claim dates (a row per participant with a counted claim) are held and the
    -- participants stream. Left to its size estimates the engine held every participant,
    -- which loses their order, and sorted the result again: 3.7 GB at 10M participants.
    from claim_dates as cd
    right join mi
        on cd.lot_code = mi.lot_code
        and cd.participant_id = mi.participant_id
),

-- A validated claim is audited evidence, so its date wins; the MI fills in outcomes that were
-- never claimed (or not yet validated by the claims cut-off).
combined as (
    select
        *,
        coalesce(claim_embedded_date, mi_embedded_date) as embedded_date,
        coalesce(claim_job_start_date, mi_job_start_date) as job_start_date,
        coalesce(claim_sustained_13_date, mi_sustained_13_date) as sustained_13_date,
        coalesce(claim_sustained_26_date, mi_sustained_26_date) as sustained_26_date,
        coalesce(claim_sustained_52_date, mi_sustained_52_date) as sustained_52_date,
        coalesce(claim_progression_date, mi_progression_date) as progression_date
    from matched
)

select
    -- ids
    c.participant_id,
    c.lot_code,
    c.payment_group,
    co.out_of_work as is_out_of_work,
    c.is_claims_matched,
    -- combined outcomes
    c.embedded_date is not null as is_embedded,
    c.job_start_date is not null as is_job_start,
    c.sustained_13_date is not null as is_sustained_13,
    c.sustained_26_date is not null as is_sustained_26,
    c.sustained_52_date is not null as is_sustained_52,
    c.progression_date is not null as is_progressed,
    c.registration_date,
    c.embedded_date,
    c.job_start_date,
    c.sustained_13_date,
    c.sustained_26_date,
    c.sustained_52_date,
    c.progression_date,
    -- MI outcome dates
    c.mi_embedded_date,
    c.mi_job_start_date,
    c.mi_sustained_13_date,
    c.mi_sustained_26_date,
    c.mi_sustained_52_date,
    c.mi_progression_date,
    -- counted claim dates
    c.claim_embedded_date,
    c.claim_job_start_date,
    c.claim_sustained_13_date,
    c.claim_sustained_26_date,
    c.claim_sustained_52_date,
    c.claim_progression_date,
    -- the participant's place in the extracts
    c.place
from cohorts as co
right join combined as c
    on co.cohort_code = c.payment_group
order by c.place
