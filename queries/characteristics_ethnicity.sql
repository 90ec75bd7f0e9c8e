-- table:    characteristics_ethnicity
-- produces: report Table A-5 (participants by ethnicity: white or minority ethnic, and ethnic
--           group; section 2.2)
-- grain:    one row per category of `ethnicity` then of `ethnic_group`, in report order, every
--           category listed
-- reads:    characteristic_counts
-- base (N): participants with a recorded ethnicity other than "prefer not to say"
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic in ('ethnicity', 'ethnic_group')
order by characteristic_order, category_order
