-- table:    answer_counts
-- produces: the counts behind every multi-select table (Tables 4-2, 4-3 and their breakdowns)
-- grain:    one row per question × option of its code list
-- reads:    participant_answers, questions, codes
-- base (N): per question, participants with any answer recorded to it (yes or no)
-- checks:   (question, option) unique; 0 <= participants <= n

with

-- import ------------------------------------------------------------------------------------

answers as (
    select
        participant_id,
        question,
        option,
        answer
    from participant_answers
),

options as (
    select
        q.question,
        c.code as option,
        c.label,
        c.code_order
    from questions as q
    inner join codes as c
        on c.code_list = q.code_list
),

-- steps -------------------------------------------------------------------------------------

-- "Has data" is any recorded flag, yes or no.
base as (
    select
        question,
        count(distinct participant_id) as n
    from answers
    group by question
),

said_yes as (
    select
        question,
        option,
        count(distinct participant_id) as participants
    from answers
    where answer
    group by question, option
)

-- Every option gets a row, chosen or not, so a table lists the whole code list.
select
    o.question,
    o.option,
    o.label,
    o.code_order,
    coalesce(s.participants, 0) as participants,
    coalesce(b.n, 0) as n
from options as o
left join said_yes as s
    on s.question = o.question
    and s.option = o.option
left join base as b
    on b.question = o.question
order by o.question, o.code_order
