-- table:    participant_characteristics
-- produces: staging: each participant's categories of every characteristic the tables break
--           down by (report 2.2, Tables A-3 to A-15, A-40, A-41, the "by characteristic"
--           outcome and implementation tables), as rows, for the queries that group by
--           characteristic and category; the completed actions are `participant_actions`
-- grain:    one row per MI participant × characteristic they have data for, in the
--           participants' order in the extracts (`place`)
-- reads:    participant_categories
-- base (N): all clean MI participants; a field without data gives no row, so the rows of a
--           characteristic are the report's N for it
-- checks:   (place, characteristic) unique; category not null
--
-- A template (see queries/README.md): `participant_categories` turned from one column per
-- characteristic into one row per characteristic, with each category's order. Which category a
-- value falls in is decided there, once; this only reshapes.

with

-- Each participant's row as a list of (characteristic, order, category), one per
-- characteristic, unnested into rows: one pass over `participant_categories` that keeps its
-- order, where a union of a branch per characteristic would merge twenty streams.
unpivoted as (
    select
        lot_code,
        cohort_code,
        place,
        unnest([
{% for c in characteristics %}
            {
                'characteristic': {{ c.name | sql }},
                'category_order': case {{ c.name | ident }}
{% for k in c.categories %}
                    when {{ k.category | sql }} then {{ k.category_order }}
{% endfor %}
                end,
                'category': {{ c.name | ident }}
            }{{ "," if not loop.last }}
{% endfor %}
        ]) as value
    from participant_categories
)

select
    lot_code,
    cohort_code,
    place,
    value['characteristic'] as characteristic,
    value['category_order'] as category_order,
    value['category'] as category
from unpivoted
where value['category'] is not null
-- In the participants' order, which the engine knows `participant_categories` is in and the
-- unnesting keeps: no sort (a sort held 160M rows at 10M participants and ran out of memory).
-- A participant's rows come in the order of the characteristics, the same every run.
order by place
