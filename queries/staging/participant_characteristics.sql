-- table:    participant_characteristics
-- produces: staging: each participant's categories of every characteristic the tables break
--           down by (report 2.2, Tables A-3 to A-15, A-40, A-41, the "by characteristic"
--           outcome and implementation tables), as rows, for the queries that group by
--           characteristic and category; the completed actions are `participant_actions`
-- grain:    one row per MI participant × characteristic they have data for, in no order
--           (a view: each reader aggregates or joins it)
-- reads:    participant_categories
-- base (N): all clean MI participants; a field without data gives no row, so the rows of a
--           characteristic are the report's N for it
-- checks:   (place, characteristic) unique; category not null
-- materialized: view
--
-- A template (see queries/README.md): `participant_categories` turned from one column per
-- characteristic into one row per characteristic, with each category's order. Which category a
-- value falls in is decided there, once; this only reshapes.
--
-- A view, not a table: 16 rows per participant (160M at 10M participants) that every reader
-- only counts or joins. Written out, in the participants' order, it took 46 s at 10M and its
-- readers 3 s each; as a view each reader scans the one column of `participant_categories` per
-- characteristic it needs, about 5 s for the largest. A branch per characteristic (rather than
-- unnesting a list per participant, 3 to 4 times slower in the engine) lets a reader of one
-- characteristic read one column.

{% for c in characteristics %}
select
    lot_code,
    cohort_code,
    place,
    {{ c.name | sql }} as characteristic,
    case {{ c.name | ident }}
{% for k in c.categories %}
        when {{ k.category | sql }} then {{ k.category_order }}
{% endfor %}
    end as category_order,
    {{ c.name | ident }} as category
from participant_categories
where {{ c.name | ident }} is not null
{{ "union all" if not loop.last }}
{% endfor %}
