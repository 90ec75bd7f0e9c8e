-- table:    how_heard
-- produces: report Table 4-1 (how participants heard about Connecting Communities)
-- grain:    one row per group of the `table_4_1` grouping of the `heard` question's options
-- reads:    answer_shares
-- base (N): participants with any answer recorded to the `heard` question; `pct` is of them.
--           The published Table 4-1's "Per cent" is of another base: consistent only with
--           4,375–4,463, near the mentions (participants summed over the groups, 4,466 for
--           N = 3,676); `pct_of_mentions` is of the mentions
-- checks:   group_label unique; 0 <= participants <= n; a participant counts once per group
--           however many of its options they ticked

with

-- import ------------------------------------------------------------------------------------

-- The groups of Table 4-1 among all participants; answer_shares counts a participant once per
-- group however many of its options they ticked, and its base is any recorded flag.
groups as (
    select
        item_order as group_order,
        item as group_label,
        participants,
        n
    from answer_shares
    where question = 'heard'
        and grouping = 'table_4_1'
        and characteristic = 'all'
)

select
    group_order,
    group_label,
    participants,
    cast(participants as double) / nullif(n, 0) as pct,
    n,
    cast(participants as double)
        / nullif(sum(participants) over (), 0) as pct_of_mentions,
    sum(participants) over () as mentions
from groups
order by group_order
