-- table:    ethnicity_by_lot
-- produces: report Table A-6 (participants by ethnicity, by lot; section 2.2)
-- grain:    one row per lot × category of `ethnicity`, `ethnic_group`, lots in contract order, every category
--           listed
-- reads:    lot_profiles
-- base (N): per lot, its participants with ethnicity other than "prefer not to say" recorded; pct of that n
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
where characteristic in ('ethnicity', 'ethnic_group')
order by lot_order, characteristic_order, category_order
