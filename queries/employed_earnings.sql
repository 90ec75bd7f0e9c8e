-- table:    employed_earnings
-- produces: report Table A-14 (weekly earnings of the Employed progression cohort; section 2.2)
-- grain:    one row per category of `earnings_band`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with weekly earnings recorded (the contract asks them of the employed
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
where characteristic = 'earnings_band'
order by characteristic_order, category_order
