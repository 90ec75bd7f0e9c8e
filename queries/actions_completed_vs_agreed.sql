-- table:    actions_completed_vs_agreed
-- produces: report Table A-46 (actions completed compared with actions agreed; section 4.3)
-- grain:    one row per action of the `action` code list, in code-list order
-- reads:    answer_shares
-- base (N): agreed_n: participants with any agreed action recorded; completed_n: participants
--           with any completed action recorded; each pct is of its own n; relative_change =
--           (completed_pct - agreed_pct) / agreed_pct, the change from agreeing to completing
--           relative to agreeing ("17 per cent fewer participants", 4.3: -0.17), of shares
--           because the two bases differ (a lot may record agreed actions and no completed ones)
-- checks:   action unique; 0 <= agreed <= agreed_n; 0 <= completed <= completed_n;
--           relative_change null exactly when agreed_pct is 0 or null; relative_change >= -1

with

-- import ------------------------------------------------------------------------------------

agreed as (
    select
        item_order,
        item,
        participants,
        pct,
        n
    from answer_shares
    where question = 'agreed_action'
        and grouping = 'option'
        and characteristic = 'all'
),

completed as (
    select
        item,
        participants,
        pct,
        n
    from answer_shares
    where question = 'completed_action'
        and grouping = 'option'
        and characteristic = 'all'
)

-- Both questions share the `action` code list, so every action is in both.
select
    a.item_order,
    a.item,
    a.participants as agreed,
    a.pct as agreed_pct,
    a.n as agreed_n,
    c.participants as completed,
    c.pct as completed_pct,
    c.n as completed_n,
    (c.pct - a.pct) / nullif(a.pct, 0) as relative_change
from agreed as a
inner join completed as c
    on c.item = a.item
order by a.item_order
