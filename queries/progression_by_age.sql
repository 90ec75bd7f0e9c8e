-- table:    progression_by_age
-- produces: report Table A-38 (in-work progression of the embedded Employed progression cohort, by
--           age band)
-- grain:    one row per category of `age_band`, in report order, every category listed
-- reads:    outcome_rates
-- base (N): embedded participants of the employed cohort with data for the characteristic;
--           `achieved` progressed in work, `rate` = achieved / participants
-- checks:   (characteristic, category) unique; 0 <= achieved <= participants; a characteristic's
--           participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    achieved,
    rate,
    n
from outcome_rates
where outcome = 'progression'
    and characteristic = 'age_band'
order by characteristic_order, category_order
