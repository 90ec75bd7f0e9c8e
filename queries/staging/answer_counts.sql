-- table:    answer_counts
-- produces: the counts behind every multi-select table (Tables 4-2, 4-3 and their breakdowns)
-- grain:    one row per question × option of its code list
-- reads:    answer_shares, questions, codes
-- base (N): per question, participants with any answer recorded to it (yes or no)
-- checks:   (question, option) unique; 0 <= participants <= n

with

-- import ------------------------------------------------------------------------------------

-- All participants, option by option: `answer_shares` has counted them already (a participant
-- once per option they ticked; the base, everyone with any flag recorded, yes or no).
all_participants as (
    select
        question,
        item_order,
        item,
        participants,
        n
    from answer_shares
    where characteristic = 'all'
        and grouping = 'option'
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

base as (
    select
        question,
        max(n) as n
    from all_participants
    group by question
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
left join all_participants as s
    on s.question = o.question
    and s.item_order = o.code_order
    and s.item = o.label
left join base as b
    on b.question = o.question
order by o.question, o.code_order
