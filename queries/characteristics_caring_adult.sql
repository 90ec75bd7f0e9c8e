-- table:    characteristics_caring_adult
-- produces: report Table A-10 (participants caring for an adult dependant; section 2.2)
-- grain:    one row per category of `caring_adult`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with the caring-for-an-adult flag recorded
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'caring_adult'
order by characteristic_order, category_order
