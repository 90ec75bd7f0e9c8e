-- table:    barriers_by_cohort
-- produces: report Table A-44 (perceived barriers to work by cohort; section 4.2.2)
-- grain:    one row per category of `cohort` × option of the `barrier` question, every one listed
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
    and characteristic = 'cohort'
order by characteristic_order, category_order, item_order
