-- table:    cohort_by_lot
-- produces: report Table A-41 (participants by cohort, by lot; section 4.2.1)
-- grain:    one row per lot × category of `cohort`, lots in contract order, every category
--           listed
-- reads:    lot_profiles
-- base (N): per lot, its participants with a cohort; pct of that n
-- checks:   (lot_code, characteristic, category) unique; a lot's categories add up to its n

select
    lot_order,
    lot_code,
    lot_name,
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from lot_profiles
where characteristic in ('cohort')
order by lot_order, characteristic_order, category_order
