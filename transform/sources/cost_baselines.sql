-- cost_baselines(from, to): what cost-anomalies compares each day's cost with, for the days from `from` up to
-- `to` (excluded): per (project, service) series and day with usage (billing_daily, corrections left out), the
-- day's cost, whether it was spread over several days rather than observed, and its baseline over the 28 days
-- before it, from the series' first day on (a day without cost is a zero, a spread day is left out): the mean cost
-- of the same weekday, the observed days and those of the same weekday, and the variance of those days around their
-- weekday means. queries/cost-anomalies.sql says how each is used. The loader materialises it into the table
-- cost_baselines for the billing periods each load brings states of and the 28 days after each (a day's baseline
-- reads the 28 days before it; transform/src/models.rs): the report then reads a few rows per series, where
-- computing the baselines itself took about 100 ms of its 230 in the engine (BENCHMARKS.md, 2026-12-06, afternoon).
-- A day without usage is not a row: usage costs are never negative (a decrease is a correction), so such a day is
-- never above its baseline.

WITH
    series_daily AS
    (
        SELECT organization_id, project_id, coalesce(product_name, sku) AS service, day, sum(cost) AS cost,
               max(spread_days) > 1 AS estimated
        FROM billing_daily
        WHERE charge_class = '' AND day < {to:Date}
        GROUP BY organization_id, project_id, service, day
    ),
    -- Each series once: its first day, and its days from 28 days before `from` as a map (a map answers 0 for a
    -- day it does not hold).
    series AS
    (
        SELECT organization_id, project_id, service, min(day) AS first_day,
               mapFromArrays(groupArrayIf(day, day + 28 >= {from:Date}), groupArrayIf(cost, day + 28 >= {from:Date}))
                   AS costs,
               groupArrayIf(day, estimated AND day + 28 >= {from:Date}) AS estimated_days
        FROM series_daily
        GROUP BY organization_id, project_id, service
        HAVING max(day) >= {from:Date}
    ),
    -- Each day computed, with the observed days before it in its 28-day window.
    windows AS
    (
        SELECT organization_id, project_id, service, day, costs[day] AS cost, has(estimated_days, day) AS estimated,
               arrayFilter(d -> NOT has(estimated_days, d),
                           arrayMap(i -> day - least(28, dateDiff('day', first_day, day)) + i,
                                    range(toUInt32(least(28, dateDiff('day', first_day, day)))))) AS past_days,
               arrayMap(d -> costs[d], past_days) AS past_costs,
               arrayMap(d -> toDayOfWeek(d), past_days) AS past_weekdays
        FROM series
        ARRAY JOIN arrayFilter(d -> d >= {from:Date}, mapKeys(costs)) AS day
    ),
    stats AS
    (
        SELECT organization_id, project_id, service, day, cost, estimated, length(past_days) AS history_days,
               -- Observed days of the day's weekday: spread days left out can leave too few to be a mean.
               countEqual(past_weekdays, toDayOfWeek(day)) AS same_weekdays,
               -- The mean of each weekday (1 = Monday) over the window.
               arrayMap(k -> arraySum(arrayFilter((c, w) -> w = k, past_costs, past_weekdays))
                             / greatest(countEqual(past_weekdays, k), 1), range(1, 8)) AS means,
               arraySum(arrayMap((c, w) -> toDecimal256(c - means[w], 9) * toDecimal256(c - means[w], 9),
                                 past_costs, past_weekdays)) / greatest(history_days, 1) AS variance
        FROM windows
    )
SELECT organization_id, project_id, service, day, cost, CAST(estimated, 'Bool') AS estimated,
       toUInt32(history_days) AS history_days, toUInt32(same_weekdays) AS same_weekdays,
       means[toDayOfWeek(day)] AS expected, variance
FROM stats
