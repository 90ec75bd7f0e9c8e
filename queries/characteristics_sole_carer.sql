-- table:    characteristics_sole_carer
-- produces: report Table A-9 (parents of children under 16 who are their sole carer; section 2.2)
-- grain:    one row per category of `sole_carer`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with the sole-carer flag recorded (the contract asks it of carers of a
--           child under 16 only)
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'sole_carer'
order by characteristic_order, category_order
