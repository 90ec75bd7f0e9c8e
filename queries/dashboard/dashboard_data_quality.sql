-- table:    dashboard_data_quality
-- produces: dashboard packs: the data-quality indicators of each refresh, for the programme and
--           each lot — MI files received and rejected, rows read and quarantined, participants
--           entered late and records corrected since the refresh before
-- grain:    one row per refresh × area (the programme, then lots in contract order),
--           refreshes in date order; every combination listed (0 when nothing)
-- reads:    refresh_files, refresh_participants, refreshes, areas
-- base (N): each refresh's MI files as ingest accounted for them (`ingest/validation/
--           accounting.csv`) and its clean participants. Entered late: first in this refresh
--           though registered by the previous refresh's extract date (entered late, or rejected
--           then and accepted now). Corrected: in both refreshes with another cohort, gender,
--           ethnicity, registration date or age at registration. Both null on the first refresh
-- checks:   (refresh_order, area_code) unique; rows_quarantined <= rows_read; the programme row
--           is the sum of the lots'

with

-- import ------------------------------------------------------------------------------------

files as (
    select
        refresh_order,
        lot as lot_code,
        status,
        rows_read,
        rows_quarantined
    from refresh_files
    where dataset = 'mi'
),

people as (
    select
        refresh_order,
        participant_id,
        lot_code,
        registration_date,
        payment_group,
        gender,
        ethnicity,
        age_at_registration
    from refresh_participants
),

refreshes as (
    select
        refresh_order,
        refresh,
        extract_date
    from refreshes
),

areas as (
    select
        area_order,
        area_code,
        area_name,
        lot_code
    from areas
),

-- steps -------------------------------------------------------------------------------------

file_counts as (
    select
        refresh_order,
        lot_code,
        count(*) as files,
        sum(case when status = 'rejected' then 1 else 0 end) as files_rejected,
        sum(rows_read) as rows_read,
        sum(rows_quarantined) as rows_quarantined
    from files
    group by refresh_order, lot_code
),

late as (
    select
        cur.refresh_order,
        cur.lot_code,
        count(*) as entered_late
    from people as cur
    inner join refreshes as before
        on before.refresh_order = cur.refresh_order - 1
    left join people as prev
        on prev.refresh_order = cur.refresh_order - 1
        and prev.participant_id = cur.participant_id
    where prev.participant_id is null
        and cur.registration_date <= before.extract_date
    group by cur.refresh_order, cur.lot_code
),

corrected as (
    select
        cur.refresh_order,
        cur.lot_code,
        count(*) as corrected
    from people as cur
    inner join people as prev
        on prev.refresh_order = cur.refresh_order - 1
        and prev.participant_id = cur.participant_id
    where (cur.payment_group is distinct from prev.payment_group)
        or (cur.gender is distinct from prev.gender)
        or (cur.ethnicity is distinct from prev.ethnicity)
        or (cur.registration_date is distinct from prev.registration_date)
        or (cur.age_at_registration is distinct from prev.age_at_registration)
    group by cur.refresh_order, cur.lot_code
),

by_lot as (
    select
        r.refresh_order,
        l.lot_code,
        coalesce(f.files, 0) as files,
        coalesce(f.files_rejected, 0) as files_rejected,
        coalesce(f.rows_read, 0) as rows_read,
        coalesce(f.rows_quarantined, 0) as rows_quarantined,
        case when r.refresh_order > 1 then coalesce(t.entered_late, 0) end as entered_late,
        case when r.refresh_order > 1 then coalesce(c.corrected, 0) end as corrected
    from refreshes as r
    cross join areas as l
    left join file_counts as f
        on f.refresh_order = r.refresh_order
        and f.lot_code = l.lot_code
    left join late as t
        on t.refresh_order = r.refresh_order
        and t.lot_code = l.lot_code
    left join corrected as c
        on c.refresh_order = r.refresh_order
        and c.lot_code = l.lot_code
    where l.lot_code is not null
)

select
    r.refresh_order,
    r.refresh,
    a.area_order,
    a.area_code,
    a.area_name,
    sum(b.files) as files,
    sum(case when b.files = 0 then 1 else 0 end) as lots_without_file,
    sum(b.files_rejected) as files_rejected,
    sum(b.rows_read) as rows_read,
    sum(b.rows_quarantined) as rows_quarantined,
    sum(b.entered_late) as entered_late,
    sum(b.corrected) as corrected
from refreshes as r
cross join areas as a
inner join by_lot as b
    on b.refresh_order = r.refresh_order
    and (b.lot_code = a.lot_code or a.lot_code is null)
group by r.refresh_order, r.refresh, a.area_order, a.area_code, a.area_name
order by r.refresh_order, a.area_order
