-- table:    validated_claims
-- produces: staging: the claims the report counts — validated (the `counted` status of the
--           claims dictionary) and submitted by the lot's cut-off (report 1.3: "validated claims
--           submitted through to November 2021, and until October 2021 for Binley and
--           Willenhall"; `claims_validated_to` in pipeline/study.toml)
-- grain:    one row per counted claim, in the claims extract's order (`place`, as ingest wrote
--           it): no sort of every claim
-- reads:    claims, claims_cutoffs, decisions
-- base (N): all claims ingest kept
-- checks:   claim_ref unique; (lot_code, participant_id, milestone) unique (ingest uses none of
--           a participant's validated claims for a milestone claimed twice); every row counted
--           and, by the date decision `claims_date` names (submitted, by default), on or before
--           its lot's cut-off

with

-- import ------------------------------------------------------------------------------------

claims as (
    select
        claim_ref,
        lot_code,
        participant_id,
        payment_group,
        milestone,
        milestone_date,
        submitted_date,
        amount_gbp,
        source_file,
        source_row,
        place
    from claims
    where counted
),

-- Which date is held against the cut-off (decision `claims_date`, pipeline/decisions.toml).
claims_date as (
    select
        choice
    from decisions
    where decision = 'claims_date'
),

-- The decision joins the nine cut-offs, not the claims: a join of every claim with it loses
-- the claims' order, and sorting them again held every claim in memory (3.4 GB at 10M
-- participants). Joined on the lot, the claims stream through in their order.
cutoffs as (
    select
        k.lot_code,
        k.validated_to,
        d.choice as claims_date
    from claims_cutoffs as k
    cross join claims_date as d
)

-- A claim submitted after the cut-off arrived after the extract the report used: a later
-- refresh may hold it, and the published figures must not move because of it.
select
    c.*
from claims as c
inner join cutoffs as k
    on k.lot_code = c.lot_code
where case k.claims_date
        when 'milestone' then c.milestone_date
        else c.submitted_date
    end <= k.validated_to
order by c.place
