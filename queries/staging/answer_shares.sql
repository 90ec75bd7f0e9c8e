-- table:    answer_shares
-- produces: staging: the counts behind every multi-select table by participant group — how
--           participants heard (Table 4-1, A-42, A-43, Figure 4-3), barriers (Table 4-2, A-44,
--           by lot), agreed and completed actions (Table 4-3, A-45, A-46), health types (A-12)
-- grain:    one row per question × item × breakdown category, where an item is an option of
--           the question's code list (`grouping` = 'option') or a group of a grouping of it
--           (e.g. `table_4_1`), and a breakdown is all participants, cohort, lot or enrolment
--           before / from the first lockdown; every item and category listed
-- reads:    participant_answers, questions, codes, code_groups, participant_characteristics,
--           characteristic_values
-- base (N): per question and category, participants in it with any answer recorded to the
--           question (yes or no); `participants` ticked at least one option of the item
-- checks:   (question, grouping, item, characteristic, category) unique; 0 <= participants <= n

with

-- import ------------------------------------------------------------------------------------

answers as (
    select
        participant_id,
        lot_code,
        question,
        option,
        answer
    from participant_answers
),

-- The breakdowns a multi-select table is published by.
breakdowns as (
    select
        participant_id,
        lot_code,
        characteristic,
        category
    from participant_characteristics
    where characteristic in ('all', 'cohort', 'lot', 'enrolment_period')
),

breakdown_categories as (
    select distinct
        characteristic,
        characteristic_order,
        category_order,
        category
    from characteristic_values
    where characteristic in ('all', 'cohort', 'lot', 'enrolment_period')
),

-- Items: each option on its own, and each group of every grouping of the question's list.
items as (
    select
        q.question,
        'option' as grouping,
        c.code as option,
        c.code_order as item_order,
        c.label as item
    from questions as q
    inner join codes as c
        on c.code_list = q.code_list
    union all
    select
        q.question,
        g.grouping,
        g.code as option,
        g.group_order as item_order,
        g.group_label as item
    from questions as q
    inner join code_groups as g
        on g.code_list = q.code_list
),

-- steps -------------------------------------------------------------------------------------

item_list as (
    select distinct question, grouping, item_order, item
    from items
),

answered as (
    select distinct participant_id, lot_code, question
    from answers
),

-- "Has data" is any recorded flag, yes or no.
bases as (
    select
        a.question,
        b.characteristic,
        b.category,
        count(*) as n
    from answered as a
    inner join breakdowns as b
        on b.participant_id = a.participant_id
        and b.lot_code = a.lot_code
    group by a.question, b.characteristic, b.category
),

-- A participant counts once per item however many of its options they ticked.
ticked as (
    select distinct
        a.participant_id,
        a.lot_code,
        i.question,
        i.grouping,
        i.item
    from answers as a
    inner join items as i
        on i.question = a.question
        and i.option = a.option
    where a.answer
),

by_item as (
    select
        t.question,
        t.grouping,
        t.item,
        b.characteristic,
        b.category,
        count(*) as participants
    from ticked as t
    inner join breakdowns as b
        on b.participant_id = t.participant_id
        and b.lot_code = t.lot_code
    group by t.question, t.grouping, t.item, b.characteristic, b.category
)

select
    i.question,
    i.grouping,
    i.item_order,
    i.item,
    c.characteristic,
    c.characteristic_order,
    c.category_order,
    c.category,
    coalesce(k.participants, 0) as participants,
    cast(coalesce(k.participants, 0) as double) / nullif(b.n, 0) as pct,
    coalesce(b.n, 0) as n
from item_list as i
cross join breakdown_categories as c
left join by_item as k
    on k.question = i.question
    and k.grouping = i.grouping
    and k.item = i.item
    and k.characteristic = c.characteristic
    and k.category = c.category
left join bases as b
    on b.question = i.question
    and b.characteristic = c.characteristic
    and b.category = c.category
order by i.question, i.grouping, c.characteristic_order, c.category_order, i.item_order
