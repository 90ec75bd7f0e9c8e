-- table:    framework_case_groups
-- produces: framework staging: each case under every breakdown it belongs to
-- grain:    one row per case × breakdown (all, interview type, wave, lot, cohort, age band, role, gender)
-- reads:    framework_cases
-- base (N): valid cases of the case sheet (interviews)
-- checks:   (case_id, breakdown) unique; programme-level cases have no lot row
with

cases as (
    select case_id, interview_type, wave, lot, cohort, age_band, role, gender
    from framework_cases
),

long as (
    select case_id, 'all' as breakdown, 'all' as group_code from cases
    union all
    select case_id, 'interview_type', interview_type from cases
    union all
    select case_id, 'wave', cast(wave as varchar) from cases
    union all
    select case_id, 'lot', lot from cases where lot is not null
    union all
    select case_id, 'cohort', cohort from cases where cohort is not null
    union all
    select case_id, 'age_band', age_band from cases where age_band is not null
    union all
    select case_id, 'role', role from cases where role is not null
    union all
    select case_id, 'gender', gender from cases where gender is not null
)

select case_id, breakdown, group_code
from long
order by breakdown, group_code, case_id
