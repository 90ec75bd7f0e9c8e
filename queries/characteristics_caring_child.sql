-- table:    characteristics_caring_child
-- produces: report Table A-8 (participants caring for a child under 16; section 2.2)
-- grain:    one row per category of `caring_child`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with the caring-for-a-child flag recorded
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'caring_child'
order by characteristic_order, category_order
