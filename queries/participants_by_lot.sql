-- table:    participants_by_lot
-- produces: report Table A-40 (participants engaged by lot; section 4.2.1)
-- grain:    one row per category of `lot`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): all MI participants
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'lot'
order by characteristic_order, category_order
