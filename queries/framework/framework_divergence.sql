-- table:    framework_divergence
-- produces: framework: divergent perspectives, themes on which groups (interview types, waves, cohorts) see things differently
-- grain:    one row per code × compared breakdown × group; every configured group listed
-- reads:    framework_codes, framework_groups, framework_divergence_by, framework_settings, framework_case_codes, framework_case_groups
-- base (N): cases of the group charting the code with a (+), (-) or (+/-) mark (`valenced`)
-- checks:   (code, breakdown, group_code) unique; lean is the most frequent of facilitator, barrier, mixed among at least min_cases valenced cases; divergent when two groups lean differently
with

codes as (
    select code, theme, level, label, code_order
    from framework_codes
),

groups as (
    select g.breakdown, g.breakdown_order, g.group_code, g.group_label, g.group_order
    from framework_groups as g
    inner join framework_divergence_by as d on d.breakdown = g.breakdown
),

settings as (
    select divergence_min_cases as min_cases
    from framework_settings
),

counted as (
    select
        cc.code,
        cg.breakdown,
        cg.group_code,
        count(*) as count_cases,
        sum(case when cc.lean = 'facilitator' then 1 else 0 end) as count_facilitator,
        sum(case when cc.lean = 'barrier' then 1 else 0 end) as count_barrier,
        sum(case when cc.lean = 'mixed' then 1 else 0 end) as count_mixed
    from framework_case_codes as cc
    inner join framework_case_groups as cg on cg.case_id = cc.case_id
    group by cc.code, cg.breakdown, cg.group_code
),

filled as (
    select
        c.code,
        c.theme,
        c.level,
        c.label,
        g.breakdown,
        g.group_code,
        g.group_label,
        coalesce(n.count_cases, 0) as cases,
        coalesce(n.count_facilitator, 0) as facilitator,
        coalesce(n.count_barrier, 0) as barrier,
        coalesce(n.count_mixed, 0) as mixed,
        coalesce(n.count_facilitator + n.count_barrier + n.count_mixed, 0) as valenced,
        s.min_cases,
        c.code_order,
        g.breakdown_order,
        g.group_order
    from codes as c
    cross join groups as g
    cross join settings as s
    left join counted as n
        on n.code = c.code and n.breakdown = g.breakdown and n.group_code = g.group_code
),

leaning as (
    select
        *,
        case
            when valenced = 0 then null
            else cast(facilitator - barrier as double) / valenced
        end as net_valence,
        case
            when valenced < min_cases then 'too few'
            when facilitator > barrier and facilitator > mixed then 'facilitator'
            when barrier > facilitator and barrier > mixed then 'barrier'
            when mixed > facilitator and mixed > barrier then 'mixed'
            else 'balanced'
        end as lean
    from filled
),

verdict as (
    select
        code,
        breakdown,
        count(distinct case when lean in ('facilitator', 'barrier', 'mixed') then lean end) >= 2
            as divergent
    from leaning
    group by code, breakdown
)

select
    l.code,
    l.theme,
    l.level,
    l.label,
    l.breakdown,
    l.group_code,
    l.group_label,
    l.cases,
    l.valenced,
    l.facilitator,
    l.barrier,
    l.mixed,
    l.net_valence,
    l.lean,
    v.divergent,
    l.code_order,
    l.breakdown_order,
    l.group_order
from leaning as l
inner join verdict as v on v.code = l.code and v.breakdown = l.breakdown
order by l.code_order, l.breakdown_order, l.group_order
