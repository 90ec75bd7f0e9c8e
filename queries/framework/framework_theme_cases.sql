-- table:    framework_theme_cases
-- produces: framework: cases charting each theme and sub-theme, overall and by interview type, wave, lot and the other attributes
-- grain:    one row per code × breakdown × group; every configured group listed, even with no case
-- reads:    framework_codes, framework_groups, framework_case_groups, framework_case_codes
-- base (N): cases (interviews) in the group (`base`); `share` = cases / base
-- checks:   (code, breakdown, group_code) unique; facilitator + barrier + mixed + neutral = cases
with

codes as (
    select code, theme, level, label, stage, section, code_order
    from framework_codes
),

groups as (
    select breakdown, breakdown_order, group_code, group_label, group_order
    from framework_groups
),

case_groups as (
    select case_id, breakdown, group_code
    from framework_case_groups
),

case_codes as (
    select case_id, code, lean
    from framework_case_codes
),

base as (
    select breakdown, group_code, count(*) as count_cases
    from case_groups
    group by breakdown, group_code
),

counted as (
    select
        cc.code,
        cg.breakdown,
        cg.group_code,
        count(*) as count_cases,
        sum(case when cc.lean = 'facilitator' then 1 else 0 end) as count_facilitator,
        sum(case when cc.lean = 'barrier' then 1 else 0 end) as count_barrier,
        sum(case when cc.lean = 'mixed' then 1 else 0 end) as count_mixed,
        sum(case when cc.lean = 'neutral' then 1 else 0 end) as count_neutral
    from case_codes as cc
    inner join case_groups as cg on cg.case_id = cc.case_id
    group by cc.code, cg.breakdown, cg.group_code
)

select
    c.code,
    c.theme,
    c.level,
    c.label,
    c.stage,
    c.section,
    g.breakdown,
    g.group_code,
    g.group_label,
    coalesce(n.count_cases, 0) as cases,
    coalesce(n.count_facilitator, 0) as facilitator,
    coalesce(n.count_barrier, 0) as barrier,
    coalesce(n.count_mixed, 0) as mixed,
    coalesce(n.count_neutral, 0) as neutral,
    coalesce(b.count_cases, 0) as base,
    case
        when coalesce(b.count_cases, 0) = 0 then null
        else cast(coalesce(n.count_cases, 0) as double) / b.count_cases
    end as share,
    c.code_order,
    g.breakdown_order,
    g.group_order
from codes as c
cross join groups as g
left join counted as n
    on n.code = c.code and n.breakdown = g.breakdown and n.group_code = g.group_code
left join base as b
    on b.breakdown = g.breakdown and b.group_code = g.group_code
order by c.code_order, g.breakdown_order, g.group_order
