-- table:    barriers
-- produces: report Table 4-2 (most identified perceived barriers)
-- grain:    one row per option of the `barrier` question, most often chosen first
-- reads:    participant_answers, questions, codes
-- base (N): participants with any answer recorded to the `barrier` question
-- checks:   option unique; 0 <= participants <= n; rank 1 has the most participants; ties
--           share a rank and keep code-list order

with

-- import ------------------------------------------------------------------------------------

question as (
    select
        question,
        code_list
    from questions
    where question = 'barrier'
),

answers as (
    select
        a.participant_id,
        a.option,
        a.answer
    from participant_answers as a
    inner join question as q
        on q.question = a.question
),

options as (
    select
        c.code as option,
        c.label,
        c.code_order
    from codes as c
    inner join question as q
        on q.code_list = c.code_list
),

-- steps -------------------------------------------------------------------------------------

-- "Has data" is any recorded flag, yes or no.
base as (
    select count(distinct participant_id) as n
    from answers
),

said_yes as (
    select
        option,
        count(distinct participant_id) as participants
    from answers
    where answer
    group by option
),

-- Every option gets a row, chosen or not, so the table lists the whole code list.
per_option as (
    select
        o.code_order,
        o.option,
        o.label,
        coalesce(s.participants, 0) as participants
    from options as o
    left join said_yes as s
        on s.option = o.option
)

select
    rank() over (order by p.participants desc) as rank,
    p.option,
    p.label,
    p.participants,
    cast(p.participants as double) / nullif(b.n, 0) as pct,
    b.n,
    p.code_order
from per_option as p
cross join base as b
order by rank, p.code_order
