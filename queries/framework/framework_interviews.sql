-- table:    framework_interviews
-- produces: report 1.3 (interviews by year: 51, 63, 40) by interview type
-- grain:    one row per wave × interview type, with `all` rows for totals of each
-- reads:    framework_cases, framework_interview_types, framework_waves
-- base (N): valid cases of the case sheet (interviews)
-- checks:   (wave, interview_type) unique; published_interviews only on the all-types rows
with

cases as (
    select case_id, interview_type, cast(wave as varchar) as wave
    from framework_cases
),

type_rows as (
    select interview_type, label as type_label, type_order
    from framework_interview_types
    union all
    select 'all', 'All types', (select max(type_order) + 1 from framework_interview_types)
),

wave_rows as (
    select cast(wave as varchar) as wave, label as wave_label, published_interviews, wave as wave_order
    from framework_waves
    union all
    select
        'all',
        'All waves',
        (select sum(published_interviews) from framework_waves),
        (select max(wave) + 1 from framework_waves)
),

counts as (
    select wave, interview_type, count(*) as count_cases from cases group by wave, interview_type
    union all
    select wave, 'all', count(*) from cases group by wave
    union all
    select 'all', interview_type, count(*) from cases group by interview_type
    union all
    select 'all', 'all', count(*) from cases
)

select
    w.wave,
    w.wave_label,
    t.interview_type,
    t.type_label,
    coalesce(c.count_cases, 0) as interviews,
    case when t.interview_type = 'all' then w.published_interviews end as published_interviews,
    w.wave_order,
    t.type_order
from wave_rows as w
cross join type_rows as t
left join counts as c on c.wave = w.wave and c.interview_type = t.interview_type
order by w.wave_order, t.type_order
