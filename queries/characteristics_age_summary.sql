-- table:    characteristics_age_summary
-- produces: report section 2.2 ("Participants' ages ranged from 16 to 75 years of age", with
--           Table A-4's N)
-- grain:    one row per statistic of the age at registration: youngest, median, oldest
-- reads:    participants, participant_characteristics
-- base (N): participants with an age at registration in an `age_band` band (Table A-4's N; the
--           dictionary's minimum age, 16, is enforced at ingest)
-- checks:   statistic unique; youngest <= median <= oldest; n = characteristics_age's n for
--           `age_band`; age null only when n is 0

with

-- import ------------------------------------------------------------------------------------

ages as (
    select
        place,
        age_at_registration as age
    from participants
    where age_at_registration is not null
),

banded as (
    select
        place
    from participant_characteristics
    where characteristic = 'age_band'
),

-- steps -------------------------------------------------------------------------------------

-- The participants Table A-4 counts, so that the range and its N are of the same people.
base as (
    select cast(a.age as double) as age
    from ages as a
    inner join banded as b
        on b.place = a.place
),

-- One pass over the base for all three: a CTE read three times is computed three times.
summary as (
    select
        min(age) as youngest,
        median(age) as median_age,
        max(age) as oldest,
        count(*) as n
    from base
),

statistic_list as (
    select *
    from (values (1, 'Youngest'), (2, 'Median'), (3, 'Oldest'))
        as s (statistic_order, statistic)
)

select
    l.statistic_order,
    l.statistic,
    case l.statistic_order
        when 1 then s.youngest
        when 2 then s.median_age
        else s.oldest
    end as age,
    s.n
from statistic_list as l
cross join summary as s
order by statistic_order
