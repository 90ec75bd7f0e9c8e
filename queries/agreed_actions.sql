-- table:    agreed_actions
-- produces: report Table 4-3 (agreed actions)
-- grain:    one row per option of the `agreed_action` question, most often chosen first
-- reads:    answer_counts
-- base (N): participants with any answer recorded to the `agreed_action` question
-- checks:   option unique; 0 <= participants <= n; rank 1 has the most participants; ties
--           share a rank and keep code-list order

with

-- import ------------------------------------------------------------------------------------

counts as (
    select
        option,
        label,
        code_order,
        participants,
        n
    from answer_counts
    where question = 'agreed_action'
)

select
    rank() over (order by participants desc) as rank,
    option,
    label,
    participants,
    cast(participants as double) / nullif(n, 0) as pct,
    n,
    code_order
from counts
order by rank, code_order
