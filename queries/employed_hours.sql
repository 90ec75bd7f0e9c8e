-- table:    employed_hours
-- produces: report Table A-13 (hours worked per week by the Employed progression cohort; section
--           2.2)
-- grain:    one row per category of `hours_band`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with hours per week recorded (the contract asks them of the employed
--           cohort only)
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'hours_band'
order by characteristic_order, category_order
