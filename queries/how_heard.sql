-- table:    how_heard
-- produces: report Table 4-1 (how participants heard about Connecting Communities)
-- grain:    one row per group of the `table_4_1` grouping of the `heard` question's options
-- reads:    participant_answers, questions, code_groups
-- base (N): participants with any answer recorded to the `heard` question; `pct` is of them.
--           The published Table 4-1's "Per cent" is of another base: consistent only with
--           4,375–4,463, near the mentions (participants summed over the groups, 4,466 for
--           N = 3,676); `pct_of_mentions` is of the mentions
-- checks:   group_label unique; 0 <= participants <= n; a participant counts once per group
--           however many of its options they ticked

with

-- import ------------------------------------------------------------------------------------

question as (
    select
        question,
        code_list
    from questions
    where question = 'heard'
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

option_groups as (
    select
        g.code as option,
        g.group_label,
        g.group_order
    from code_groups as g
    inner join question as q
        on q.code_list = g.code_list
    where g.grouping = 'table_4_1'
),

-- steps -------------------------------------------------------------------------------------

-- "Has data" is any recorded flag, yes or no.
base as (
    select count(distinct participant_id) as n
    from answers
),

groups as (
    select distinct
        group_label,
        group_order
    from option_groups
),

by_group as (
    select
        og.group_label,
        count(distinct a.participant_id) as participants
    from answers as a
    inner join option_groups as og
        on og.option = a.option
    where a.answer
    group by og.group_label
)

select
    g.group_order,
    g.group_label,
    coalesce(bg.participants, 0) as participants,
    cast(coalesce(bg.participants, 0) as double) / nullif(b.n, 0) as pct,
    b.n,
    cast(coalesce(bg.participants, 0) as double)
        / nullif(sum(coalesce(bg.participants, 0)) over (), 0) as pct_of_mentions,
    sum(coalesce(bg.participants, 0)) over () as mentions
from groups as g
left join by_group as bg
    on bg.group_label = g.group_label
cross join base as b
order by g.group_order
