-- table:    health_types
-- produces: report Table A-12 (types of health condition or disability; section 2.2)
-- grain:    one row per category of `all` × option of the `health_type` question, every one listed
-- reads:    answer_shares
-- base (N): per category, participants in it with any answer recorded to `health_type` (the
--           contract asks it of those with a condition); `participants` ticked the item
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
where question = 'health_type'
    and grouping = 'option'
    and characteristic = 'all'
order by characteristic_order, category_order, item_order
