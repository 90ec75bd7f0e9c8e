-- table:    how_heard_by_lot
-- produces: report Table A-43 (how participants heard about the programme, by lot; section 4.2.1)
-- grain:    one row per category of `lot` × group of the `table_4_1` grouping of the `heard`
--           question, every one listed
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
    and characteristic = 'lot'
order by characteristic_order, category_order, item_order
