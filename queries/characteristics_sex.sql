-- table:    characteristics_sex
-- produces: report Table A-3 (participants by sex; section 2.2)
-- grain:    one row per category of `sex`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants recorded as female or male
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'sex'
order by characteristic_order, category_order
