-- table:    framework_cross_cutting
-- produces: framework: cross-cutting themes, charted by interviews from at least k lots (k: codebook settings)
-- grain:    one row per theme and sub-theme
-- reads:    framework_codes, framework_case_codes, framework_cases, framework_groups, framework_settings
-- base (N): lots of the study (`lots_total`); programme-level interviews have no lot and do not count
-- checks:   code unique; is_cross_cutting = (lots_present >= min_lots)
with

codes as (
    select code, theme, level, label, stage, section, code_order
    from framework_codes
),

case_lots as (
    select case_id, lot
    from framework_cases
    where lot is not null
),

lots as (
    select group_code as lot, group_label as lot_name, group_order as lot_order
    from framework_groups
    where breakdown = 'lot'
),

settings as (
    select cross_cutting_min_lots as min_lots, lots as lots_total
    from framework_settings
),

present as (
    select cc.code, cl.lot, count(*) as count_cases
    from framework_case_codes as cc
    inner join case_lots as cl on cl.case_id = cc.case_id
    group by cc.code, cl.lot
),

per_code as (
    select
        p.code,
        count(*) as lots_present,
        sum(p.count_cases) as count_cases,
        string_agg(l.lot_name, '; ' order by l.lot_order) as lots_list
    from present as p
    inner join lots as l on l.lot = p.lot
    group by p.code
)

select
    c.code,
    c.theme,
    c.level,
    c.label,
    c.stage,
    c.section,
    coalesce(p.lots_present, 0) as lots_present,
    s.lots_total,
    s.min_lots,
    coalesce(p.lots_present, 0) >= s.min_lots as is_cross_cutting,
    coalesce(p.count_cases, 0) as cases,
    p.lots_list,
    c.code_order
from codes as c
cross join settings as s
left join per_code as p on p.code = c.code
order by c.code_order
