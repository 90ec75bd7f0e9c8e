-- table:    job_outcome_by_ethnicity
-- produces: report Table A-21 (job outcome rate of embedded out-of-work participants, by ethnicity)
-- grain:    one row per category of `ethnicity`, in report order, every category listed
-- reads:    outcome_rates
-- base (N): embedded participants of the out-of-work cohorts with data for the characteristic;
--           `achieved` started a job, `rate` = achieved / participants
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
where outcome = 'job_outcome'
    and characteristic = 'ethnicity'
order by characteristic_order, category_order
