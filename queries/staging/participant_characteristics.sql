-- table:    participant_characteristics
-- produces: staging: each participant's categories of every characteristic the tables break
--           down by (report 2.2, Tables A-3 to A-15, A-40, A-41, the "by characteristic"
--           outcome and implementation tables); the completed actions are `participant_actions`
-- grain:    one row per MI participant × characteristic they have data for, in the
--           participants' order in the extracts (`place`)
-- reads:    participants, characteristic_values
-- base (N): all clean MI participants; a field without data gives no row, so the rows of a
--           characteristic are the report's N for it
-- checks:   (place, characteristic) unique; category not null

with

-- import ------------------------------------------------------------------------------------

-- The MI columns characteristics are read from, one row per participant × column with a
-- value: codes and flags as text, numbers (and dates, as days since 1970) as doubles. A
-- `[[characteristic]]` on a column not listed here finds no rows; the transform tests check
-- that every configured one does. A participant is their place in the extracts (`place`,
-- ingest's one-number form of `source_file` and `source_row`), which every reader joins on:
-- the pseudonym and the file name cost 40 bytes on each of 160M rows at 10M participants,
-- and the merge by (file name, row) below took more than half this query's time.
fields as (
    select lot_code, payment_group, place, 'lot_code' as column_name,
        lot_code as code, cast(null as double) as number
    from participants
    union all
    select lot_code, payment_group, place, 'payment_group',
        payment_group as code, cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'gender',
        gender, cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'ethnicity',
        ethnicity, cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'highest_qualification',
        highest_qualification, cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'health_condition',
        health_condition, cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'contract_type',
        contract_type, cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'progression_employer',
        progression_employer, cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'caring_child_u16',
        cast(caring_child_u16 as varchar), cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'sole_carer',
        cast(sole_carer as varchar), cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'caring_adult',
        cast(caring_adult as varchar), cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'claiming_benefits',
        cast(claiming_benefits as varchar), cast(null as double)
    from participants
    union all
    select lot_code, payment_group, place, 'age_at_registration',
        cast(null as varchar), cast(age_at_registration as double)
    from participants
    union all
    select lot_code, payment_group, place, 'hours_per_week',
        cast(null as varchar), cast(hours_per_week as double)
    from participants
    union all
    select lot_code, payment_group, place, 'weekly_earnings',
        cast(null as varchar), cast(weekly_earnings as double)
    from participants
    union all
    select lot_code, payment_group, place, 'registration_date',
        cast(null as varchar), cast(cast(registration_date as int) as double)
    from participants
),

values_with_data as (
    select *
    from fields
    where code is not null or number is not null
),

coded_values as (
    select characteristic, column_name, category_order, category, code
    from characteristic_values
    where code is not null
),

banded_values as (
    select characteristic, column_name, category_order, category, lower, upper
    from characteristic_values
    where code is null
),

-- steps -------------------------------------------------------------------------------------

coded as (
    select
        f.lot_code,
        f.payment_group as cohort_code,
        f.place,
        v.characteristic,
        v.category_order,
        v.category
    from values_with_data as f
    inner join coded_values as v
        on v.column_name = f.column_name
        and v.code = f.code
),

banded as (
    select
        f.lot_code,
        f.payment_group as cohort_code,
        f.place,
        v.characteristic,
        v.category_order,
        v.category
    from values_with_data as f
    inner join banded_values as v
        on v.column_name = f.column_name
    where (v.lower is null or f.number >= v.lower)
        and (v.upper is null or f.number < v.upper)
)

-- In the participants' order in the extracts (ingest's order: files by name, rows in order),
-- which the engine knows ingest's tables are in: it merges the branches' streams, already in
-- that order, with no sort (a sort by characteristic held 160M rows at 10M participants and
-- ran out of memory). A participant's rows come in the plan's order of columns and values,
-- the same every run; nothing reads them in an order.
select * from coded
union all
select * from banded
order by place
