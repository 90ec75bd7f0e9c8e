-- table:    characteristics_qualification
-- produces: report Table A-7 (participants by highest qualification; section 2.2)
-- grain:    one row per category of `qualification`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with a highest qualification in a report band ("other, level unknown" has
--           none)
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'qualification'
order by characteristic_order, category_order
