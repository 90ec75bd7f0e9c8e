-- table:    employed_contract
-- produces: report Table A-15 (contract type of the Employed progression cohort; section 2.2)
-- grain:    one row per category of `contract_type`, in report order, every category listed
-- reads:    characteristic_counts
-- base (N): participants with a contract type recorded (the contract asks it of the employed cohort
--           only)
-- checks:   (characteristic, category) unique; a characteristic's participants add up to its n

select
    characteristic,
    category_order,
    category,
    participants,
    pct,
    n
from characteristic_counts
where characteristic = 'contract_type'
order by characteristic_order, category_order
