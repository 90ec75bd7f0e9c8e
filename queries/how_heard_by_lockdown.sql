-- table:    how_heard_by_lockdown
-- produces: report Figure 4-3 (how participants heard, enrolled before and from the first national
--           lockdown; section 4.2.1)
-- grain:    one row per category of `enrolment_period` × group of the `table_4_1` grouping of the
--           `heard` question, every one listed
-- reads:    answer_shares
-- base (N): per category, participants in it with any answer recorded to `heard`; `participants`
--           ticked the item
-- checks:   (category, item) unique; 0 <= participants <= n; n equal within a category

select
    characteristic,
    category_order,
    category,
    item_order,
    item,
    participants,
    pct,
    n
from answer_shares
where question = 'heard'
    and grouping = 'table_4_1'
    and characteristic = 'enrolment_period'
order by characteristic_order, category_order, item_order
