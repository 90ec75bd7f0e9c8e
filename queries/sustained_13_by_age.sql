-- table:    sustained_13_by_age
-- produces: report Table A-30 (13-week job sustainment of out-of-work participants who started a
--           job, by age band)
-- grain:    one row per category of `age_band`, in report order, every category listed
-- reads:    outcome_rates
-- base (N): participants of the out-of-work cohorts with a job start with data for the
--           characteristic; `achieved` sustained 13 weeks, `rate` = achieved / participants
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
where outcome = 'sustained_13'
    and characteristic = 'age_band'
order by characteristic_order, category_order
