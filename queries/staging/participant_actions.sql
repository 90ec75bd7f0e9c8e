-- table:    participant_actions
-- produces: staging: whether each participant completed each action of the `completed_action`
--           question, as a yes/no characteristic `completed_action.<option>` the models can
--           take as a covariate (report 2.3's models: coaching, matching skills to jobs); in
--           the columns of `participant_characteristics`, which the models read beside it
-- grain:    one row per MI participant with any completed action recorded × option of the
--           question's code list
-- reads:    participants, participant_answers, questions, codes
-- base (N): MI participants with any completed action recorded (yes or no)
-- checks:   (participant_id, lot_code, characteristic) unique; category in ('Yes', 'No')

with

-- import ------------------------------------------------------------------------------------

completed_actions as (
    select
        participant_id,
        lot_code,
        option,
        answer
    from participant_answers
    where question = 'completed_action'
),

action_order as (
    select
        q.question,
        c.code as option,
        c.code_order
    from questions as q
    inner join codes as c
        on c.code_list = q.code_list
    where q.question = 'completed_action'
),

-- steps -------------------------------------------------------------------------------------

-- A participant with any completed action recorded has data for every action: an action
-- without a yes for them was not completed.
action_participants as (
    select distinct participant_id, lot_code
    from completed_actions
),

completed as (
    select distinct participant_id, lot_code, option
    from completed_actions
    where answer
)

-- Yes sorts first, as a flag's does.
select
    ap.participant_id,
    ap.lot_code,
    p.payment_group as cohort_code,
    ao.question || '.' || ao.option as characteristic,
    case when c.option is null then 2 else 1 end as category_order,
    case when c.option is null then 'No' else 'Yes' end as category
from action_participants as ap
inner join participants as p
    on p.participant_id = ap.participant_id
    and p.lot_code = ap.lot_code
cross join action_order as ao
left join completed as c
    on c.participant_id = ap.participant_id
    and c.lot_code = ap.lot_code
    and c.option = ao.option
order by characteristic, participant_id, lot_code
