-- table:    enrolment_before_after_lockdown
-- produces: report section 4.2.1 (participants enrolled before and from the first national
--           lockdown)
-- grain:    one row per category of `enrolment_period`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): all MI participants; the split date is `first_lockdown` in pipeline/study.toml
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'enrolment_period'
order by characteristic_order, category_order
