-- table:    characteristics_age
-- produces: report Table A-4 (participants by age band, and aged 50 or over; section 2.2)
-- grain:    one row per category of `age_band` then of `age_50_plus`, in report order, every
--           category listed
-- reads:    characteristic_counts
-- base (N): participants with an age at registration (from the date of birth) in a band
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic in ('age_band', 'age_50_plus')
order by characteristic_order, category_order
