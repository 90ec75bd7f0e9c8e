-- table:    answer_shares
-- produces: staging: the counts behind every multi-select table by participant group — how
--           participants heard (Table 4-1, A-42, A-43, Figure 4-3), barriers (Table 4-2, A-44,
--           by lot), agreed and completed actions (Table 4-3, A-45, A-46), health types (A-12)
-- grain:    one row per question × item × breakdown category, where an item is an option of
--           the question's code list (`grouping` = 'option') or a group of a grouping of it
--           (e.g. `table_4_1`), and a breakdown is all participants, cohort, lot or enrolment
--           before / from the first lockdown; every item and category listed
-- reads:    participant_answers, participants, questions, codes, code_groups,
--           characteristic_values
-- base (N): per question and category, participants in it with any answer recorded to the
--           question (yes or no); `participants` ticked at least one option of the item
-- checks:   (question, grouping, item, characteristic, category) unique; 0 <= participants <= n

with

-- import ------------------------------------------------------------------------------------

-- One row per participant and question with any flag recorded, and the options ticked yes.
answers as (
    select
        place,
        question,
        ticked
    from participant_answers
),

-- The MI columns the breakdowns are read from (`column_name` in characteristic_values).
fields as (
    select
        place,
        lot_code,
        payment_group,
        registration_date
    from participants
),

-- The breakdowns a multi-select table is published by: coded (a code of the column) or
-- banded (a range of it, dates as days since 1970), as in participant_characteristics.
breakdown_values as (
    select
        characteristic,
        column_name,
        category,
        code,
        lower,
        upper
    from characteristic_values
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
option_items as (
    select
        q.question,
        c.code as option,
        c.code_order as item_order,
        c.label as item
    from questions as q
    inner join codes as c
        on c.code_list = q.code_list
),

group_items as (
    select
        q.question,
        g.grouping,
        g.group_order as item_order,
        g.group_label as item,
        array_agg(g.code) as options
    from questions as q
    inner join code_groups as g
        on g.code_list = q.code_list
    group by q.question, g.grouping, g.group_order, g.group_label
),

-- steps -------------------------------------------------------------------------------------

-- Every item a table lists, and each question's base (item ''), numbered: what is counted
-- per answer is a number, not three strings (hashing the strings of 60M rows at 1M
-- participants was most of this query's time). The numbering is the same wherever the
-- engine computes it: ordered by the items' unique key.
items as (
    select
        question,
        grouping,
        item_order,
        item,
        row_number() over (order by question, grouping, item_order, item) as item_id
    from (
        select question, 'option' as grouping, item_order, item
        from option_items
        union all
        select question, grouping, item_order, item
        from group_items
        union all
        select distinct question, '', 0, ''
        from option_items
    )
),

option_ids as (
    select
        o.question,
        o.option,
        i.item_id
    from option_items as o
    inner join items as i
        on i.question = o.question
        and i.grouping = 'option'
        and i.item_order = o.item_order
        and i.item = o.item
),

group_ids as (
    select
        g.question,
        g.options,
        i.item_id
    from group_items as g
    inner join items as i
        on i.question = g.question
        and i.grouping = g.grouping
        and i.item_order = g.item_order
        and i.item = g.item
),

base_ids as (
    select
        question,
        item_id
    from items
    where grouping = ''
),

-- What each answer counts towards: the question's base (item '': "has data" is any recorded
-- flag, yes or no), every option ticked, and every group with an option ticked —
-- once per group however many of its options were ticked, so nothing here needs making
-- distinct per participant.
hits as (
    select
        a.place,
        b.item_id
    from base_ids as b
    inner join answers as a
        on a.question = b.question
    union all
    select
        t.place,
        o.item_id
    from option_ids as o
    inner join (
        select place, question, unnest(ticked) as option
        from answers
    ) as t
        on t.question = o.question
        and t.option = o.option
    union all
    select
        a.place,
        g.item_id
    from group_ids as g
    inner join answers as a
        on a.question = g.question
    where array_has_any(a.ticked, g.options)
),

-- Counted in two steps. First by item and the participant's lot, cohort and registration
-- date together: one hash table over the answers, which come to far fewer groups (about 80,000
-- at 1M participants) than the answers (21M). Then by each breakdown column's raw value
-- (grouping sets, as each cross-tabulation would be in SPSS) over those groups: grouping sets
-- straight over the answers hashed every answer three times, the most of this query's time.
-- The participants are held once, narrow, and the answers streamed past them.
answer_profiles as (
    select
        h.item_id,
        f.lot_code,
        f.payment_group,
        f.registration_date,
        count(*) as participants
    from fields as f
    inner join hits as h
        on h.place = f.place
    group by h.item_id, f.lot_code, f.payment_group, f.registration_date
),

counts_by_value as (
    select
        item_id,
        case
            when grouping(payment_group) = 0 then 'payment_group'
            when grouping(registration_date) = 0 then 'registration_date'
            else 'lot_code'
        end as column_name,
        coalesce(payment_group, lot_code) as code,
        cast(cast(registration_date as int) as double) as number,
        sum(participants) as participants
    from answer_profiles
    group by grouping sets (
        (item_id, lot_code),
        (item_id, payment_group),
        (item_id, registration_date)
    )
),

-- Values to categories. A participant without a category in a breakdown (no registration
-- date) is not counted in that breakdown.
by_category as (
    select
        c.item_id,
        v.characteristic,
        v.category,
        sum(c.participants) as participants
    from counts_by_value as c
    inner join breakdown_values as v
        on v.column_name = c.column_name
    where (v.code is not null and v.code = c.code)
        or (
            v.code is null
            and c.number is not null
            and (v.lower is null or c.number >= v.lower)
            and (v.upper is null or c.number < v.upper)
        )
    group by c.item_id, v.characteristic, v.category
),

-- Every item and category listed, with the question's base beside it: one read of
-- by_category, which an engine would compute again for a second reference.
counted as (
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
        coalesce(
            max(case when i.item = '' then k.participants end) over (
                partition by i.question, c.characteristic, c.category
            ),
            0
        ) as n
    from items as i
    cross join breakdown_categories as c
    left join by_category as k
        on k.item_id = i.item_id
        and k.characteristic = c.characteristic
        and k.category = c.category
)

select
    question,
    grouping,
    item_order,
    item,
    characteristic,
    characteristic_order,
    category_order,
    category,
    participants,
    cast(participants as double) / nullif(n, 0) as pct,
    n
from counted
where item <> ''
order by question, grouping, characteristic_order, category_order, item_order
