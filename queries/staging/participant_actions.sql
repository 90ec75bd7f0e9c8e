-- table:    participant_actions
-- produces: staging: the actions each participant completed, for report 2.3's models
--           (coaching, matching skills to jobs), which take each action of the
--           `completed_action` question's code list as a yes/no characteristic
--           `completed_action.<option>`: yes when it is in `completed`, no when it is not
-- grain:    one row per MI participant with any completed action recorded, in the
--           participants' order in the extracts
-- reads:    participant_answers
-- base (N): MI participants with any completed action recorded (yes or no)
-- checks:   place unique; completed holds codes of the question's code list (ingest's)
--
-- A participant is their place in the extracts, not their pseudonym: only the models read this
-- table, and they merge it with the outcomes by that place. It used to hold a row per
-- participant × action (150M rows at 10M participants, the run's largest table, written only
-- for the models to read back); the models now make the yes/no of each action as they read a
-- participant's list, and the list is the answer ingest already wrote.

-- A participant with any completed action recorded has data for every action: an action not
-- ticked yes was not completed. Ingest writes one answer row per participant and question, the
-- options ticked yes in the code list's order, and the answers in extract order; filtering
-- keeps that order, so the table needs no sort.
select
    place,
    ticked as completed
from participant_answers
where question = 'completed_action'
order by place
