-- table:    participant_actions
-- produces: staging: whether each participant completed each action of the `completed_action`
--           question, as a yes/no characteristic `completed_action.<option>` the models can
--           take as a covariate (report 2.3's models: coaching, matching skills to jobs), in
--           the columns of `participant_characteristics` the models read beside it
-- grain:    one row per MI participant with any completed action recorded × option of the
--           question's code list, in the participants' order in the extracts
-- reads:    participant_answers, questions, codes
-- base (N): MI participants with any completed action recorded (yes or no)
-- checks:   (place, characteristic) unique; category in ('Yes', 'No')
--
-- A participant is their place in the extracts, not their pseudonym: only the models read this
-- table, and they merge it with the outcomes by that place. At 10M participants it has 150M
-- rows, and a pseudonym on each was most of the bytes written.

with

-- import ------------------------------------------------------------------------------------

-- One row per participant with any completed action recorded, and the actions ticked yes.
completed_actions as (
    select
        question,
        ticked,
        place
    from participant_answers
    where question = 'completed_action'
),

action_order as (
    select
        q.question,
        c.code as option,
        q.question || '.' || c.code as characteristic,
        c.code_order
    from questions as q
    inner join codes as c
        on c.code_list = q.code_list
    where q.question = 'completed_action'
)

-- steps -------------------------------------------------------------------------------------

-- A participant with any completed action recorded has data for every action: an action not
-- ticked yes was not completed. The actions are held and the participants streamed past
-- them, in their order in the extracts, so the table comes out in that order with no sort of
-- it (a participant's actions in the plan's order, the same every run). Yes sorts first, as a
-- flag's does.
select
    ao.characteristic,
    case when coalesce(array_has(a.ticked, ao.option), false) then 1 else 2 end
        as category_order,
    case when coalesce(array_has(a.ticked, ao.option), false) then 'Yes' else 'No' end
        as category,
    a.place
from action_order as ao
inner join completed_actions as a
    on a.question = ao.question
order by a.place
