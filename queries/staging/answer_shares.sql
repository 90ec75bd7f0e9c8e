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

-- Each participant's category of every breakdown on one row, so a participant's answers are
-- joined to their groups once, not once per breakdown.
profiles as (
    select
        participant_id,
        lot_code,
        max(case when characteristic = 'all' then category end) as all_category,
        max(case when characteristic = 'cohort' then category end) as cohort_category,
        max(case when characteristic = 'lot' then category end) as lot_category,
        max(case when characteristic = 'enrolment_period' then category end) as period_category
    from breakdowns
    group by participant_id, lot_code
),

-- Every answer with its participant's groups. The participants' profiles are held and the
-- answers streamed past them, and only then made distinct: distinct answers first would be
-- the smaller side by the engine's estimate and held whole instead, many times the
-- participants. "Has data" is any recorded flag, yes or no.
answered as (
    select distinct
        a.participant_id,
        a.lot_code,
        a.question,
        p.all_category,
        p.cohort_category,
        p.lot_category,
        p.period_category
    from profiles as p
    inner join answers as a
        on a.participant_id = p.participant_id
        and a.lot_code = p.lot_code
),

-- A participant counts once per item however many of its options they ticked.
ticked as (
    select distinct
        a.participant_id,
        a.lot_code,
        i.question,
        i.grouping,
        i.item,
        p.all_category,
        p.cohort_category,
        p.lot_category,
        p.period_category
    from profiles as p
    inner join answers as a
        on a.participant_id = p.participant_id
        and a.lot_code = p.lot_code
    inner join items as i
        on i.question = a.question
        and i.option = a.option
    where a.answer
),

-- Counted once per breakdown in one pass (grouping sets, as each cross-tabulation would be in
-- SPSS), not by joining every answer to its participant once per breakdown. A participant
-- without a category in a breakdown (no registration date) is not counted in that breakdown.
bases as (
    select
        a.question,
        case
            when grouping(a.all_category) = 0 then 'all'
            when grouping(a.cohort_category) = 0 then 'cohort'
            when grouping(a.lot_category) = 0 then 'lot'
            else 'enrolment_period'
        end as characteristic,
        coalesce(a.all_category, a.cohort_category, a.lot_category, a.period_category)
            as category,
        count(*) as n
    from answered as a
    group by grouping sets (
        (a.question, a.all_category),
        (a.question, a.cohort_category),
        (a.question, a.lot_category),
        (a.question, a.period_category)
    )
),

by_item as (
    select
        t.question,
        t.grouping,
        t.item,
        case
            when grouping(t.all_category) = 0 then 'all'
            when grouping(t.cohort_category) = 0 then 'cohort'
            when grouping(t.lot_category) = 0 then 'lot'
            else 'enrolment_period'
        end as characteristic,
        coalesce(t.all_category, t.cohort_category, t.lot_category, t.period_category)
            as category,
        count(*) as participants
    from ticked as t
    group by grouping sets (
        (t.question, t.grouping, t.item, t.all_category),
        (t.question, t.grouping, t.item, t.cohort_category),
        (t.question, t.grouping, t.item, t.lot_category),
        (t.question, t.grouping, t.item, t.period_category)
    )
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
