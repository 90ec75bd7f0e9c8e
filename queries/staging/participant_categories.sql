-- table:    participant_categories
-- produces: staging: each participant's category of every characteristic the tables break
--           down by, one column per characteristic, named as the characteristic (report 2.2,
--           Tables A-3 to A-15, the "by characteristic" tables and the models' covariates);
--           `participant_characteristics` is the same as one row per characteristic
-- grain:    one row per clean MI participant, in the participants' order in the extracts
--           (`place`)
-- reads:    participants
-- base (N): all clean MI participants; a characteristic the participant has no data for is
--           null, so a column's non-null values are the report's N for it
-- checks:   place unique; each column holds only its characteristic's categories
--
-- A template (see queries/README.md): SQL cannot make one column per characteristic without
-- naming each, so the columns are written from the study's characteristics — those of
-- reference table `characteristic_values`, which `pipeline/study.toml` defines — and a new
-- `[[characteristic]]` adds a column with no SQL to edit. The SQL that ran is written beside
-- the table in the run folder (`tables/participant_categories.sql`).
--
-- A code falls in the category `characteristic_values` gives it, a number (a date as days
-- since 1970) in the band from `lower` (inclusive) to `upper` (exclusive); a code outside the
-- list, such as "prefer not to say" under a grouping, is no data. At 10M participants this is
-- ten million rows instead of the long table's 160 million, which is why the models read it.

{% macro number(c) -%}
{% if c.column_type == "date" %}cast(cast({{ c.column | ident }} as int) as double){% else %}cast({{ c.column | ident }} as double){% endif %}
{%- endmacro %}

select
    place,
    lot_code,
    payment_group as cohort_code,
{% for c in characteristics %}
{% if c.banded %}
    case
{% for v in c.values %}
        when {% if v.lower is none and v.upper is none %}{{ number(c) }} is not null{% endif %}
{%- if v.lower is not none %}{{ number(c) }} >= {{ v.lower }}{% endif %}
{%- if v.lower is not none and v.upper is not none %} and {% endif %}
{%- if v.upper is not none %}{{ number(c) }} < {{ v.upper }}{% endif %} then {{ v.category | sql }}
{% endfor %}
{% else %}
    case cast({{ c.column | ident }} as varchar)
{% for v in c.values %}
        when {{ v.code | sql }} then {{ v.category | sql }}
{% endfor %}
{% endif %}
    end as {{ c.name | ident }}{{ "," if not loop.last }}
{% endfor %}
from participants
order by place
