-- table:    job_outcome_by_lot
-- produces: report section 2.3 and Table A-16 (job outcome rate of embedded out-of-work
--           participants, overall and by provider)
-- grain:    one row per category of `all` then of `lot`, in report order, every category listed
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
    and characteristic in ('all', 'lot')
order by characteristic_order, category_order
