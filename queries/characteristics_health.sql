-- table:    characteristics_health
-- produces: report Table A-11 (participants with a health condition or disability; section 2.2)
-- grain:    one row per category of `health_condition`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with any answer recorded, "prefer not to say" included (the report's N)
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'health_condition'
order by characteristic_order, category_order
