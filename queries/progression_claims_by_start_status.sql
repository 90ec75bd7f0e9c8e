-- table:    progression_claims_by_start_status
-- produces: report 2.1 and 2.3: share of in-work progression claims from participants out of
--           work at the start (44% in the report)
-- grain:    one row per group of the `out_of_work` grouping of payment groups (out of / in work)
-- reads:    validated_claims, code_groups
-- base (N): counted in-work progression (PROG) claims
-- checks:   group_label unique; claims add up to n when every payment group has a group

with

-- import ------------------------------------------------------------------------------------

progression_claims as (
    select
        participant_id,
        payment_group
    from validated_claims
    where milestone = 'PROG'
),

start_status as (
    select
        code as payment_group,
        group_label,
        group_order
    from code_groups
    where code_list = 'payment_group'
        and grouping = 'out_of_work'
),

-- steps -------------------------------------------------------------------------------------

base as (
    select count(*) as n
    from progression_claims
),

groups as (
    select distinct
        group_label,
        group_order
    from start_status
),

by_group as (
    select
        s.group_label,
        count(*) as claims
    from progression_claims as p
    inner join start_status as s
        on s.payment_group = p.payment_group
    group by s.group_label
)

select
    g.group_order,
    g.group_label,
    coalesce(bg.claims, 0) as claims,
    cast(coalesce(bg.claims, 0) as double) / nullif(b.n, 0) as pct,
    b.n
from groups as g
left join by_group as bg
    on bg.group_label = g.group_label
cross join base as b
order by g.group_order
