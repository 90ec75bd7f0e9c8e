-- table:    framework_case_codes
-- produces: framework staging: which themes and sub-themes each case charts, and how it leans
-- grain:    one row per case × code charted (a theme counts when any of its sub-themes is charted)
-- reads:    framework_cells, framework_codes
-- base (N): charted cells of valid cases
-- checks:   (case_id, code) unique; lean in (facilitator, barrier, mixed, neutral)
with

cells as (
    select case_id, code, theme, valence
    from framework_cells
),

codes as (
    select code, level
    from framework_codes
),

both_levels as (
    select case_id, code, valence from cells
    union all
    select case_id, theme as code, valence from cells
),

flags as (
    select
        case_id,
        code,
        count(*) as count_cells,
        max(case when valence in ('facilitator', 'mixed') then 1 else 0 end) as has_facilitator,
        max(case when valence in ('barrier', 'mixed') then 1 else 0 end) as has_barrier
    from both_levels
    group by case_id, code
)

select
    f.case_id,
    f.code,
    c.level,
    f.count_cells,
    case
        when f.has_facilitator = 1 and f.has_barrier = 1 then 'mixed'
        when f.has_facilitator = 1 then 'facilitator'
        when f.has_barrier = 1 then 'barrier'
        else 'neutral'
    end as lean
from flags as f
inner join codes as c on c.code = f.code
order by f.code, f.case_id
