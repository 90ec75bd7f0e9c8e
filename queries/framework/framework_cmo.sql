-- table:    framework_cmo
-- produces: report Figures 3-1, 4-4, 4-5 and 4-6 (contexts, mechanisms and outcomes) with their supporting cases
-- grain:    one row per context–mechanism–outcome link
-- reads:    framework_cmo_links, framework_cmo_support, framework_cases, framework_figures, framework_interview_types
-- base (N): valid cases named as supporting the link
-- checks:   (figure, link_order) unique; direction in (enables, hinders)
with

links as (
    select link_order, figure, direction, context, mechanism, outcome
    from framework_cmo_links
),

support as (
    select s.link_order, s.case_id, c.interview_type, c.wave
    from framework_cmo_support as s
    inner join framework_cases as c on c.case_id = s.case_id
),

by_type as (
    select s.link_order, s.interview_type, t.type_order, count(*) as count_cases
    from support as s
    inner join framework_interview_types as t on t.interview_type = s.interview_type
    group by s.link_order, s.interview_type, t.type_order
),

type_text as (
    select
        link_order,
        string_agg(interview_type || ' ' || cast(count_cases as varchar), ', ' order by type_order)
            as supporting_types
    from by_type
    group by link_order
),

totals as (
    select
        link_order,
        count(*) as count_cases,
        count(distinct wave) as count_waves,
        string_agg(case_id, ', ' order by case_id) as case_ids
    from support
    group by link_order
)

select
    f.figure,
    f.title as figure_title,
    f.section,
    l.link_order,
    l.direction,
    l.context,
    l.mechanism,
    l.outcome,
    coalesce(t.count_cases, 0) as supporting_cases,
    coalesce(t.count_waves, 0) as supporting_waves,
    y.supporting_types,
    t.case_ids as supporting_case_ids,
    f.figure_order
from links as l
inner join framework_figures as f on f.figure = l.figure
left join totals as t on t.link_order = l.link_order
left join type_text as y on y.link_order = l.link_order
order by f.figure_order, l.link_order
