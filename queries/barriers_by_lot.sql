-- table:    barriers_by_lot
-- produces: report section 4.2.2 (perceived barriers to work by lot)
-- grain:    one row per category of `lot` × option of the `barrier` question, every one listed
-- reads:    answer_shares
-- base (N): per category, participants in it with any answer recorded to `barrier`; `participants`
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
where question = 'barrier'
    and grouping = 'option'
    and characteristic = 'lot'
order by characteristic_order, category_order, item_order
