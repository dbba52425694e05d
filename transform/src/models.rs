//! Derived tables: models too costly to recompute on every read are materialised at load, per loaded run.
//!
//! Each table is computed by its source, `transform/sources/<table>.sql` (a query with parameters, run by the
//! load: no view, so a start does not load the objects only a load reads), and maintained one of three ways:
//! - A row per day (`Maintained::Days`: the costs and their baselines, the charges and each resource's last charge per
//!   month, the CPU and database rollups): the source computes a window of days, and a load recomputes only the days
//!   its runs brought data for, partition by partition: the partition's other rows are copied into the twin table
//!   `<table>_next` (created for the refresh and dropped after it, like every twin), the touched days computed beside
//!   them from a bounded number of raw rows per statement (so memory follows a few days' data, not the history's; the
//!   baselines and the last charges, from another table, a partition per statement), and the partition swapped in with
//!   `REPLACE PARTITION` (or dropped, when nothing is left of it).
//! - A row per key (`Maintained::Keyed`: the newest run of each dataset, the resources, the projects, the Instances of
//!   Kapsule pools, the ghost streaks): the source merges the table with the runs' listings into the twin, swapped in
//!   with `EXCHANGE TABLES`. The streaks' merge is exact only in time order: the load merges runs oldest first, and an
//!   inventory run older than one already merged (a backfill) rebuilds the table.
//! - From the newest runs only (`Maintained::Newest`: the collected prices, the prices that apply, the ghost findings,
//!   the idle load balancers), or as big as what exists (the resources ghost-cost compares with the charges, from the
//!   newest inventory and each resource's last charge; each resource's tags, a row per resource ever tagged; the
//!   scaling groups' events, a row per group and day with events): recomputed whole into the twin and swapped in. The
//!   prices that apply, the idle load balancers and the resources ghost-cost compares (priced) are computed from what
//!   people write as well (`price_overrides`): a change there makes them stale like a new run does, so the next load,
//!   or the `costlake sql` statement that wrote it, recomputes them.
//!
//! A reader sees the old table (or partition) or the new one, never a half-built one, and a crash mid-way leaves
//! the old one in place. Tables are swapped one after another: during a load, a report may read one table
//! already holding a run beside another not yet holding it. `_refresh_runs` records the runs each table holds and the models (a checksum of their
//! text) that computed it. A loaded run the table does not hold yet (a crash between a run's ledger row and its
//! refresh) is folded in by the next load, whatever that load finds to load; a table computed by other models (an
//! upgrade), or holding a run the ledger no longer has, is rebuilt whole into the twin and swapped in.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};

use crate::migrate::tsv_rows;
use crate::warehouse::{Param, Result, Warehouse, WarehouseError, string_array};

/// One materialised model.
pub struct Materialised {
    pub table: &'static str,
    maintained: Maintained,
}

/// How a load brings a table up to its runs.
enum Maintained {
    /// Rows belong to days: the source computes the days in [`from`, `to`), and a load recomputes the days its
    /// runs brought data for.
    Days {
        /// The day a row belongs to, as SQL over the table's columns.
        day: &'static str,
        /// Whether the table is partitioned by the month of `day` (`toYYYYMM`); if not, it is one partition,
        /// `all`, copied whole but for the touched days at each refresh (fine for a row per resource and day).
        monthly: bool,
        /// Day ranges [from, to) that the runs `{runs:Array(String)}` brought data for, and how many raw rows
        /// they brought for the first of those days (`Date`, `Date`, `UInt64` per row).
        touched: &'static str,
        /// Whether the source reads another table (the baselines read the daily costs, the last charges the
        /// charges), not raw rows: a statement then computes a whole partition's touched days whatever their raw
        /// rows (the baselines read each window's 28 days before it too; a month's last charges are a row per
        /// resource), and a migration adding the table fills it at once, where a table computed from raw rows, as
        /// big as the history, waits for the next load.
        from_table: bool,
    },
    /// A row per key (a resource, a project): the source merges the table's rows with the listings of the runs
    /// `runs` (`fold = true`), or computes every row from all committed runs (`fold = false`). A load rewrites the
    /// table from the merge and swaps it in: it costs what exists (resources ever seen), not the history kept.
    Keyed {
        /// Datasets whose runs the merge needs in time order (a streak's start; empty: any order): a run holding
        /// one of them, older than a run of the same organisation holding one that the table holds already (a
        /// backfill), rebuilds the table.
        in_order_of: &'static [&'static str],
    },
    /// Computed from the newest run of each dataset only (the collected prices, the prices that apply, the ghost
    /// findings, the idle load balancers), or as big as what exists (the resources ghost-cost compares, the tags,
    /// the scaling events): recomputed whole at each load that brings runs, as big as the price lists, the newest
    /// inventory, the resources ever charged or tagged, or the groups' days with events.
    Newest {
        /// A query answering one value that changes when the table's other input, one people write and no run
        /// brings (`price_overrides`), changes: the table is recorded as computed under the models' checksum and
        /// this value (`_refresh_runs.models` holds `<checksum>+<value>`), and is stale when either differs.
        fingerprint: Option<&'static str>,
    },
}

/// What the prices that apply are computed from besides the runs: every row of `price_overrides` (its count and
/// the sum of its rows' hashes, so that the order rows are read in does not matter).
const PRICE_OVERRIDES_FINGERPRINT: &str = "SELECT concat(toString(count()), '-', \
     toString(sum(cityHash64(price_kind, zone, match_key, unit_price, currency, note)))) FROM price_overrides";

/// The most raw rows one statement computes from, as far as whole days allow: a statement holds its days' points
/// at once (about 250 bytes a point for the CPU hours), so this bounds a load's memory whatever the organisation's
/// size, while a few days per statement cost less than one day at a time (each statement reads the month's
/// granules; at 1,000 Instances a day took 1.3 s, a week 5.4 s, the month 30 s and 2.9 GB).
const ROWS_PER_STATEMENT: u64 = 4_000_000;

/// The billing periods the runs `{runs:Array(String)}` brought consumption states of, each from its first day up
/// to `$to` (SQL over `period`, the period's first day), with the states' rows: the days the daily costs, and
/// further the baselines computed from them, recompute for those runs.
macro_rules! billing_periods_until {
    ($to:literal) => {
        concat!(
            "SELECT toDate(concat(billing_period, '-01')) AS period, ",
            $to,
            ", count() FROM raw_billing_consumptions WHERE run_id IN {runs:Array(String)} \
             AND billing_period IS NOT NULL GROUP BY period"
        )
    };
}

/// Days with points of the Instances' CPU (or memory) series, and the day after each: the day's last point opens
/// the next day's first interval.
const CPU_DAYS: &str = "SELECT toDate(ts) AS day, day + 2, count() FROM raw_cockpit_metric_points \
     WHERE run_id IN {runs:Array(String)} AND metric IN \
       ('instance_server_cpu_seconds_total', 'instance_server_vcpu_count', 'instance_server_memory_used') \
     GROUP BY day";

impl Materialised {
    /// The twin table a refresh builds in before swapping.
    fn twin(&self) -> String {
        format!("{}_next", self.table)
    }

    /// The query computing the table's rows (`transform/sources/<table>.sql`, see [`Maintained`] for its
    /// parameters), as a subquery to read `FROM`.
    pub fn source(&self) -> String {
        let sql =
            crate::migrate::SOURCE_FILES.iter().find(|(table, _)| *table == self.table).map_or("", |(_, sql)| sql);
        format!("(\n{}\n)", sql.trim().trim_end_matches(';'))
    }

    /// Every row the source computes from all committed runs: the subquery and its parameters (for benchmarks
    /// and checks that compare it with the table).
    pub fn whole(&self) -> (String, Vec<Param>) {
        let params: &[(&str, &str)] = match self.maintained {
            Maintained::Days { .. } => &[("from", "1970-01-01"), ("to", "2100-01-01")],
            Maintained::Keyed { .. } => &[("fold", "false"), ("runs", "[]")],
            Maintained::Newest { .. } => &[],
        };
        (self.source(), params.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect())
    }
}

/// The datasets whose observations `ghost_streaks` merges in time order.
const GHOST_DATASETS: &[&str] = &[
    "instance_servers",
    "instance_volumes",
    "instance_ips",
    "block_volumes",
    "block_volume_references",
    "lb_load_balancers",
    "lb_backends",
];

/// The models, refreshed in this order (the newest runs before the resources they say are present, hours before
/// the days that merge them).
pub const MATERIALISED: &[Materialised] = &[
    Materialised { table: "newest_runs", maintained: Maintained::Keyed { in_order_of: &[] } },
    Materialised { table: "collected_prices", maintained: Maintained::Newest { fingerprint: None } },
    Materialised {
        table: "applied_prices",
        maintained: Maintained::Newest { fingerprint: Some(PRICE_OVERRIDES_FINGERPRINT) },
    },
    Materialised { table: "projects", maintained: Maintained::Keyed { in_order_of: &[] } },
    Materialised { table: "resources", maintained: Maintained::Keyed { in_order_of: &[] } },
    Materialised { table: "resource_tag_lists", maintained: Maintained::Newest { fingerprint: None } },
    Materialised { table: "k8s_pool_instances", maintained: Maintained::Keyed { in_order_of: &[] } },
    Materialised { table: "ghost_streaks", maintained: Maintained::Keyed { in_order_of: GHOST_DATASETS } },
    Materialised { table: "ghost_findings", maintained: Maintained::Newest { fingerprint: None } },
    Materialised {
        table: "idle_lb_findings",
        maintained: Maintained::Newest { fingerprint: Some(PRICE_OVERRIDES_FINGERPRINT) },
    },
    Materialised {
        table: "resource_charges",
        maintained: Maintained::Days {
            day: "toDate(start_date)",
            monthly: true,
            touched: "SELECT toDate(start_date) AS day, day + 1, count() FROM raw_billing_charges \
                      WHERE run_id IN {runs:Array(String)} AND start_date IS NOT NULL GROUP BY day",
            from_table: false,
        },
    },
    Materialised {
        table: "resource_charge_months",
        maintained: Maintained::Days {
            day: "month",
            monthly: true,
            // A restated day can take a resource's charge away: its month's last day is computed again whole.
            touched: "SELECT toStartOfMonth(toDate(start_date)) AS month, addMonths(month, 1), count() \
                      FROM raw_billing_charges WHERE run_id IN {runs:Array(String)} AND start_date IS NOT NULL \
                      GROUP BY month",
            from_table: true,
        },
    },
    Materialised {
        table: "billing_daily",
        maintained: Maintained::Days {
            day: "billing_period",
            monthly: false,
            // A state of a period changes all of that period's days.
            touched: billing_periods_until!("addMonths(period, 1)"),
            from_table: false,
        },
    },
    // Right after the last charges and the costs it reads: ghost-cost reads it beside resource_charges, so the two
    // are a few statements apart during a load, not the CPU rollups' minutes.
    Materialised {
        table: "ghost_cost_resources",
        maintained: Maintained::Newest { fingerprint: Some(PRICE_OVERRIDES_FINGERPRINT) },
    },
    Materialised {
        table: "cost_baselines",
        maintained: Maintained::Days {
            day: "day",
            monthly: false,
            // A period's days, and every day after it: a day's baseline reads the 28 days before it, and counts
            // its history from the series' first day, which a period loaded late (a backfill) can move back. Asked
            // once billing_daily holds the runs; a daily load touches the newest period, so this is its days and
            // the 28 after.
            touched: billing_periods_until!(
                "greatest(addMonths(period, 1) + 28, (SELECT max(day) + 1 FROM billing_daily))"
            ),
            from_table: true,
        },
    },
    Materialised {
        table: "instance_cpu_hourly",
        maintained: Maintained::Days { day: "toDate(hour)", monthly: true, touched: CPU_DAYS, from_table: false },
    },
    Materialised {
        table: "instance_cpu_daily",
        maintained: Maintained::Days { day: "day", monthly: false, touched: CPU_DAYS, from_table: false },
    },
    Materialised {
        table: "rdb_usage_daily",
        maintained: Maintained::Days {
            day: "day",
            monthly: false,
            touched: "SELECT toDate(ts) AS day, day + 2, count() FROM raw_cockpit_metric_points \
                      WHERE run_id IN {runs:Array(String)} AND startsWith(metric, 'rdb_instance_') GROUP BY day",
            from_table: false,
        },
    },
    Materialised { table: "scaling_event_days", maintained: Maintained::Newest { fingerprint: None } },
];

async fn rows(warehouse: &dyn Warehouse, sql: &str, params: &[Param]) -> Result<Vec<Vec<String>>> {
    Ok(tsv_rows(&warehouse.query(sql, params, "TabSeparated").await?))
}

/// The checksum each table's rows must have been computed under: the models' (every model's and source's text),
/// and for a table computed from what people write as well, that input's fingerprint
/// (`Maintained::Newest::fingerprint`, each asked once).
async fn checksums(warehouse: &dyn Warehouse) -> Result<HashMap<&'static str, String>> {
    let models = crate::migrate::models_checksum();
    let mut fingerprints: HashMap<&str, String> = HashMap::new();
    let mut checksums = HashMap::new();
    for model in MATERIALISED {
        let checksum = match model.maintained {
            Maintained::Newest { fingerprint: Some(question) } => {
                if !fingerprints.contains_key(question) {
                    let value = rows(warehouse, question, &[]).await?.concat().concat();
                    fingerprints.insert(question, value);
                }
                format!("{models}+{}", fingerprints[question])
            }
            _ => models.to_string(),
        };
        checksums.insert(model.table, checksum);
    }
    Ok(checksums)
}

/// A loaded run, as the ledger has it.
struct Committed {
    /// Its snapshot time, as text (in time order).
    at: String,
    organization: String,
    datasets: Vec<String>,
}

/// The loaded runs (the ledger), and the runs each table holds under its current checksum ([`checksums`]).
async fn holdings(
    warehouse: &dyn Warehouse,
    checksums: &HashMap<&'static str, String>,
) -> Result<(BTreeMap<String, Committed>, BTreeMap<String, BTreeSet<String>>)> {
    let sql = "SELECT run_id, toString(snapshot_at), organization_id, arrayStringConcat(datasets, ',') FROM runs";
    let ledger = rows(warehouse, sql, &[])
        .await?
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [run, at, organization, datasets] => Some((
                run.clone(),
                Committed {
                    at: at.clone(),
                    organization: organization.clone(),
                    datasets: datasets.split(',').map(str::to_string).collect(),
                },
            )),
            _ => None,
        })
        .collect();
    let mut held: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let sql = "SELECT table_name, models, run_id FROM _refresh_runs FINAL WHERE startsWith(models, {models:String})";
    let models = ("models".into(), crate::migrate::models_checksum().to_string());
    for row in rows(warehouse, sql, &[models]).await? {
        if let [table, checksum, run] = row.as_slice()
            && checksums.get(table.as_str()) == Some(checksum)
        {
            held.entry(table.clone()).or_default().insert(run.clone());
        }
    }
    Ok((ledger, held))
}

/// What a table needs to match the ledger.
enum Plan {
    Current,
    /// Fold these loaded runs in.
    Fold(Vec<String>),
    /// Recompute everything (first refresh, other models, a run the ledger no longer has, or, for a table merged in
    /// time order, a run older than those it holds).
    Rebuild,
}

fn plan(model: &Materialised, ledger: &BTreeMap<String, Committed>, held: Option<&BTreeSet<String>>) -> Plan {
    match held {
        _ if ledger.is_empty() && held.is_none_or(BTreeSet::is_empty) => Plan::Current,
        None => Plan::Rebuild,
        Some(held) if !held.iter().all(|run| ledger.contains_key(run)) => Plan::Rebuild,
        Some(held) => {
            // In time order, so that a merge in batches sees the older runs first.
            let mut pending: Vec<&String> = ledger.keys().filter(|run| !held.contains(*run)).collect();
            pending.sort_by_key(|run| (&ledger[*run].at, *run));
            let pending: Vec<String> = pending.into_iter().cloned().collect();
            if pending.is_empty() {
                Plan::Current
            } else if backfill(model, ledger, held, &pending) {
                Plan::Rebuild
            } else {
                Plan::Fold(pending)
            }
        }
    }
}

/// Whether a pending run is older than a held one of the same organisation, both holding datasets the model needs
/// in time order.
fn backfill(
    model: &Materialised,
    ledger: &BTreeMap<String, Committed>,
    held: &BTreeSet<String>,
    pending: &[String],
) -> bool {
    let Maintained::Keyed { in_order_of } = model.maintained else { return false };
    let ordered =
        |run: &String| ledger.get(run).filter(|c| c.datasets.iter().any(|d| in_order_of.contains(&d.as_str())));
    let mut newest_held: HashMap<&str, &str> = HashMap::new();
    for committed in held.iter().filter_map(ordered) {
        let newest = newest_held.entry(&committed.organization).or_insert(&committed.at);
        *newest = (*newest).max(committed.at.as_str());
    }
    pending
        .iter()
        .filter_map(ordered)
        .any(|c| newest_held.get(c.organization.as_str()).is_some_and(|newest| c.at.as_str() < *newest))
}

/// Fills each empty table computed from the newest runs (`Maintained::Newest`), keyed by what exists
/// (`Maintained::Keyed`) or by day from another table (`Maintained::Days { from_table: true }`) from its source, after
/// migrations: a table a migration adds would otherwise stay empty until the next load, and a report reading it
/// (ghost-resources, after `ghost_findings` came; kapsule-pools after `k8s_pool_instances`; cost-anomalies after
/// `cost_baselines`) would answer wrong meanwhile. Not recorded as holding any run, so the next load computes it as
/// usual. A table by day from raw rows, as big as the history, waits for that load.
pub async fn fill_new(warehouse: &dyn Warehouse) -> Result<()> {
    for model in MATERIALISED.iter().filter(|m| !matches!(m.maintained, Maintained::Days { from_table: false, .. })) {
        let table = model.table;
        // Asked first, so that a table already filled is not computed whole again (a keyed one costs what exists).
        if rows(warehouse, &format!("SELECT count() FROM {table}"), &[]).await?.concat().concat() != "0" {
            continue;
        }
        // Asked again in the one statement that fills, so that two processes migrating at once seldom both fill it
        // (a load's swap mends that).
        let (source, params) = model.whole();
        let fill = format!("INSERT INTO {table} SELECT * FROM {source} WHERE (SELECT count() FROM {table}) = 0");
        warehouse.execute(&fill, &params).await?;
    }
    Ok(())
}

/// The materialised tables that do not hold every loaded run, or were computed by other models (or from other
/// price overrides).
pub async fn stale(warehouse: &dyn Warehouse) -> Result<Vec<&'static str>> {
    let checksums = checksums(warehouse).await?;
    let (ledger, held) = holdings(warehouse, &checksums).await?;
    Ok(MATERIALISED
        .iter()
        .filter(|m| !matches!(plan(m, &ledger, held.get(m.table)), Plan::Current))
        .map(|m| m.table)
        .collect())
}

/// Brings every materialised table up to the ledger; returns the tables that changed.
pub async fn refresh(warehouse: &dyn Warehouse) -> Result<Vec<&'static str>> {
    refresh_with(warehouse, ROWS_PER_STATEMENT).await
}

/// [`refresh`], computing from at most `rows_per_statement` raw rows per statement where whole days allow.
pub async fn refresh_with(warehouse: &dyn Warehouse, rows_per_statement: u64) -> Result<Vec<&'static str>> {
    refresh_some(warehouse, rows_per_statement, |_| true).await
}

/// Brings the tables computed from what people write as well (a fingerprint: the prices that apply and what is
/// priced with them, as big as the price lists and the newest inventory) up to it and to the ledger, after a
/// statement that may have written it; the others wait for the next load (and these with them, when any other is
/// behind: see [`refresh_some`]). Returns the tables that changed.
pub async fn refresh_fingerprinted(warehouse: &dyn Warehouse) -> Result<Vec<&'static str>> {
    refresh_some(warehouse, ROWS_PER_STATEMENT, |model| {
        matches!(model.maintained, Maintained::Newest { fingerprint: Some(_) })
    })
    .await
}

/// Refreshes the `chosen` tables; a part of them only when every other table is current: a chosen table reads them
/// (ghost-cost's resources read the resources and their last charges), and would be recorded as holding runs they
/// lack (a load interrupted before its refresh), then skipped by the next load, which computes them all instead.
async fn refresh_some(
    warehouse: &dyn Warehouse,
    rows_per_statement: u64,
    chosen: impl Fn(&Materialised) -> bool,
) -> Result<Vec<&'static str>> {
    let checksums = checksums(warehouse).await?;
    let (ledger, held) = holdings(warehouse, &checksums).await?;
    let current = |model: &Materialised| matches!(plan(model, &ledger, held.get(model.table)), Plan::Current);
    let behind = MATERIALISED.iter().filter(|model| !chosen(model) && !current(model)).count();
    if behind > 0 {
        tracing::warn!(
            behind,
            "tables are behind the loaded runs: the price overrides apply from the next load, which computes them all"
        );
        return Ok(Vec::new());
    }
    // The CPU hours and days ask the same question of the same runs: it is asked once.
    let mut asked: HashMap<(&str, Vec<String>), Vec<Touched>> = HashMap::new();
    let mut refreshed = Vec::new();
    for model in MATERIALISED.iter().filter(|model| chosen(model)) {
        let clock = std::time::Instant::now();
        let (whole, runs) = match plan(model, &ledger, held.get(model.table)) {
            Plan::Current => continue,
            Plan::Rebuild => (true, ledger.keys().cloned().collect()),
            Plan::Fold(runs) => (false, runs),
        };
        let runs = match model.maintained {
            Maintained::Keyed { .. } | Maintained::Newest { .. } => {
                merge(warehouse, model, (!whole).then_some(&runs[..])).await?;
                runs
            }
            Maintained::Days { day, monthly, touched: question, from_table } => {
                let key = (question, runs);
                if !asked.contains_key(&key) {
                    let answer = touched(warehouse, question, &key.1).await?;
                    asked.insert(key.clone(), answer);
                }
                let windows = windows(monthly, &asked[&key]);
                let budget = if from_table { u64::MAX } else { rows_per_statement };
                if whole {
                    rebuild(warehouse, model, windows, budget).await?;
                } else {
                    fold(warehouse, model, day, windows, budget).await?;
                }
                key.1
            }
        };
        let checksum = &checksums[model.table];
        if whole {
            // Runs the ledger no longer has are forgotten, or the table would be rebuilt at every load; so are
            // those recorded under other checksums, which no check reads again.
            warehouse
                .execute(
                    "DELETE FROM _refresh_runs WHERE table_name = {table:String}",
                    &[("table".into(), model.table.to_string())],
                )
                .await?;
        }
        record(warehouse, model, checksum, &runs).await?;
        crate::load::failpoint("models.after_record").await;
        tracing::info!(
            table = model.table,
            runs = runs.len(),
            ms = clock.elapsed().as_millis() as u64,
            "model refreshed"
        );
        refreshed.push(model.table);
    }
    Ok(refreshed)
}

async fn record(warehouse: &dyn Warehouse, model: &Materialised, checksum: &str, runs: &[String]) -> Result<()> {
    for chunk in runs.chunks(1000) {
        warehouse
            .execute(
                "INSERT INTO _refresh_runs (table_name, models, run_id, refreshed_at) \
                 SELECT {table:String}, {models:String}, arrayJoin({runs:Array(String)}), now64(3)",
                &[
                    ("table".into(), model.table.to_string()),
                    ("models".into(), checksum.to_string()),
                    ("runs".into(), string_array(chunk)),
                ],
            )
            .await?;
    }
    Ok(())
}

/// Days [from, to) that runs brought data for, and the raw rows they brought for the first of those days.
#[derive(Clone, Copy)]
struct Touched {
    from: NaiveDate,
    to: NaiveDate,
    rows: u64,
}

/// Asks a model's `touched` question of the runs.
async fn touched(warehouse: &dyn Warehouse, question: &str, runs: &[String]) -> Result<Vec<Touched>> {
    let mut answer = Vec::new();
    for chunk in runs.chunks(1000) {
        for row in rows(warehouse, question, &[("runs".into(), string_array(chunk))]).await? {
            let [from, to, rows] = row.as_slice() else {
                return Err(WarehouseError::query(None, question, &format!("expected three columns, got {row:?}")));
            };
            let (Some(from), Some(to), Ok(rows)) = (date(from), date(to), rows.trim().parse::<u64>()) else {
                let reason = format!("expected two dates and a count per row, got {row:?}");
                return Err(WarehouseError::query(None, question, &reason));
            };
            answer.push(Touched { from, to, rows });
        }
    }
    Ok(answer)
}

/// The days of one partition to recompute, [from, to), and the raw rows the runs brought per day.
struct Window {
    from: NaiveDate,
    to: NaiveDate,
    rows: BTreeMap<NaiveDate, u64>,
}

/// Touched days, as one window per partition (days between two touched ones are recomputed too: the result is the
/// same, and one window per partition keeps the statements few), keyed by partition id.
fn windows(monthly: bool, touched: &[Touched]) -> BTreeMap<String, Window> {
    let partition_of = |day: NaiveDate| {
        if monthly { format!("{:04}{:02}", day.year(), day.month()) } else { "all".to_string() }
    };
    let mut partitions: BTreeMap<String, Window> = BTreeMap::new();
    for touched in touched {
        let mut day = touched.from;
        while day < touched.to {
            let end = if monthly { next_month(month_of(day)).min(touched.to) } else { touched.to };
            let window =
                partitions.entry(partition_of(day)).or_insert(Window { from: day, to: end, rows: BTreeMap::new() });
            window.from = window.from.min(day);
            window.to = window.to.max(end);
            day = end;
        }
        if let Some(window) = partitions.get_mut(&partition_of(touched.from)) {
            *window.rows.entry(touched.from).or_default() += touched.rows;
        }
    }
    partitions
}

fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

fn next_month(month: NaiveDate) -> NaiveDate {
    month.checked_add_months(chrono::Months::new(1)).unwrap_or(NaiveDate::MAX)
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// Computes the window's days into the twin, as many whole days per statement as `budget` rows allow.
async fn compute(warehouse: &dyn Warehouse, model: &Materialised, window: &Window, budget: u64) -> Result<()> {
    let next = model.twin();
    let source = model.source();
    let mut from = window.from;
    while from < window.to {
        let mut to = from;
        let mut rows = 0;
        while to < window.to {
            let day = window.rows.get(&to).copied().unwrap_or(0);
            if to > from && rows + day > budget {
                break;
            }
            rows += day;
            to = to.succ_opt().unwrap_or(window.to);
        }
        warehouse
            .execute(
                &format!("INSERT INTO {next} SELECT * FROM {source}"),
                &[("from".into(), from.to_string()), ("to".into(), to.to_string())],
            )
            .await?;
        crate::load::failpoint("models.mid_rebuild").await;
        from = to;
    }
    Ok(())
}

/// Merges the twin's parts (of `partition`, or all) into one per partition before it is swapped in. The twin is
/// filled by inserts of at most 64k rows (the loader's bounded memory), each a part; the engine merges them in the
/// background only while a process holds the warehouse, so a swapped-in partition kept a dozen parts, and a report
/// looking up a few Instances by the sort key read a granule of each (scaling-groups at 10,000 servers: 96 of 916
/// granules of `instance_cpu_hourly` in 15 parts, against 17 in 2: about 40 ms of its 190). A merge streams; it costs
/// a rewrite of the partition, which the refresh has just written. The rows are right without it: a merge the
/// engine refuses (memory, disk, a server user without the OPTIMIZE grant) is a warning, not a failed load.
async fn compact(warehouse: &dyn Warehouse, next: &str, partition: Option<&str>) {
    let sql = match partition {
        Some(partition) => format!("OPTIMIZE TABLE {next} PARTITION ID '{partition}' FINAL"),
        None => format!("OPTIMIZE TABLE {next} FINAL"),
    };
    if let Err(error) = warehouse.execute(&sql, &[]).await {
        tracing::warn!(table = next, %error, "could not merge the refreshed table's parts; reports read it as it is");
    }
}

/// The twin, created empty like the table (one a crash left is dropped first: the table may have changed since).
async fn fresh_twin(warehouse: &dyn Warehouse, model: &Materialised) -> Result<String> {
    let next = model.twin();
    drop_twin(warehouse, model).await?;
    warehouse.execute(&format!("CREATE TABLE {next} AS {}", model.table), &[]).await?;
    Ok(next)
}

/// Drops the twin, now (`SYNC`: a table dropped in an Atomic database otherwise stays on disk for 8 minutes).
async fn drop_twin(warehouse: &dyn Warehouse, model: &Materialised) -> Result<()> {
    warehouse.execute(&format!("DROP TABLE IF EXISTS {} SYNC", model.twin()), &[]).await
}

/// Recomputes the whole table into the twin and swaps it in.
async fn rebuild(
    warehouse: &dyn Warehouse,
    model: &Materialised,
    windows: BTreeMap<String, Window>,
    budget: u64,
) -> Result<()> {
    fresh_twin(warehouse, model).await?;
    for window in windows.into_values() {
        compute(warehouse, model, &window, budget).await?;
    }
    swap_in(warehouse, model).await
}

/// Recomputes the days the runs brought data for, partition by partition.
async fn fold(
    warehouse: &dyn Warehouse,
    model: &Materialised,
    day: &str,
    windows: BTreeMap<String, Window>,
    budget: u64,
) -> Result<()> {
    let table = model.table;
    for (partition, window) in windows {
        let next = fresh_twin(warehouse, model).await?;
        let bounds = [
            ("partition".into(), partition.clone()),
            ("from".into(), window.from.to_string()),
            ("to".into(), window.to.to_string()),
        ];
        warehouse
            .execute(
                &format!(
                    "INSERT INTO {next} SELECT * FROM {table} WHERE _partition_id = {{partition:String}} \
                     AND NOT ({day} >= {{from:Date}} AND {day} < {{to:Date}})"
                ),
                &bounds,
            )
            .await?;
        compute(warehouse, model, &window, budget).await?;
        let count = rows(
            warehouse,
            &format!("SELECT count() FROM {next} WHERE _partition_id = {{partition:String}}"),
            &bounds[..1],
        )
        .await?;
        let kept = count.first().and_then(|row| row.first()).is_some_and(|n| n != "0");
        if kept {
            compact(warehouse, &next, Some(partition.as_str())).await;
        }
        crate::load::failpoint("models.pause_before_exchange").await;
        let swap = if kept {
            format!("ALTER TABLE {table} REPLACE PARTITION ID '{partition}' FROM {next}")
        } else {
            format!("ALTER TABLE {table} DROP PARTITION ID '{partition}'")
        };
        warehouse.execute(&swap, &[]).await?;
        crate::load::failpoint("models.after_exchange").await;
    }
    drop_twin(warehouse, model).await
}

/// Rewrites a keyed table: its rows merged with the listings of `runs` (`None`: every committed run, the table
/// recomputed), swapped in whole; a table of the newest runs is recomputed whole. Idempotent: a crash before the
/// runs are recorded only merges them again.
async fn merge(warehouse: &dyn Warehouse, model: &Materialised, runs: Option<&[String]>) -> Result<()> {
    let statements: Vec<(String, Vec<Param>)> = match (&model.maintained, runs) {
        (Maintained::Keyed { .. }, Some(runs)) => runs
            .chunks(1000)
            .map(|batch| (model.source(), vec![("fold".into(), "true".into()), ("runs".into(), string_array(batch))]))
            .collect(),
        _ => vec![model.whole()],
    };
    for (source, params) in statements {
        let next = fresh_twin(warehouse, model).await?;
        warehouse.execute(&format!("INSERT INTO {next} SELECT * FROM {source}"), &params).await?;
        swap_in(warehouse, model).await?;
    }
    Ok(())
}

/// Swaps the twin in for the table, and drops the twin (the table as it was).
async fn swap_in(warehouse: &dyn Warehouse, model: &Materialised) -> Result<()> {
    let next = model.twin();
    compact(warehouse, &next, None).await;
    crate::load::failpoint("models.pause_before_exchange").await;
    warehouse.execute(&format!("EXCHANGE TABLES {next} AND {}", model.table), &[]).await?;
    crate::load::failpoint("models.after_exchange").await;
    drop_twin(warehouse, model).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed(at: &str, organization: &str, datasets: &[&str]) -> Committed {
        Committed {
            at: at.to_string(),
            organization: organization.to_string(),
            datasets: datasets.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn model(table: &str) -> &'static Materialised {
        MATERIALISED.iter().find(|m| m.table == table).unwrap()
    }

    fn folded(plan: Plan) -> Option<Vec<String>> {
        match plan {
            Plan::Fold(runs) => Some(runs),
            _ => None,
        }
    }

    #[test]
    fn each_table_has_one_source_file_and_each_source_a_table() {
        let tables: BTreeSet<&str> = MATERIALISED.iter().map(|m| m.table).collect();
        let sources: BTreeSet<&str> = crate::migrate::SOURCE_FILES.iter().map(|(table, _)| *table).collect();
        assert_eq!(tables, sources, "transform/sources/<table>.sql, one per materialised table");
        for model in MATERIALISED {
            let source = model.source();
            assert!(source.contains("SELECT") && !source.contains("CREATE"), "{}: a query, not a view", model.table);
        }
    }

    /// The tables a source reads, through the views it names: a table must be refreshed after those it reads, or
    /// a load would compute it from their previous state.
    #[test]
    fn each_table_is_refreshed_after_the_tables_it_reads() {
        let views: HashMap<&str, &str> = crate::migrate::MODEL_FILES.iter().copied().collect();
        let reads = |sql: &str| -> BTreeSet<String> {
            let mut read = BTreeSet::new();
            let mut pending = vec![sql.to_string()];
            while let Some(text) = pending.pop() {
                for word in crate::migrate::identifiers(&text) {
                    if read.insert(word.to_string())
                        && let Some(view) = views.get(word)
                    {
                        pending.push(view.to_string());
                    }
                }
            }
            read
        };
        for (position, model) in MATERIALISED.iter().enumerate() {
            let read = reads(&model.source());
            for later in &MATERIALISED[position + 1..] {
                assert!(!read.contains(later.table), "{} reads {}, refreshed after it", model.table, later.table);
            }
        }
        let prices = MATERIALISED.iter().position(|m| m.table == "applied_prices").unwrap();
        assert!(reads(&MATERIALISED[prices].source()).contains("collected_prices"), "through the view rate_card");
    }

    #[test]
    fn only_an_older_inventory_run_of_the_same_organisation_rebuilds_the_streaks() {
        let held = BTreeSet::from(["inv-2".to_string()]);
        let mut ledger = BTreeMap::from([
            ("inv-2".to_string(), committed("2026-11-02 04:00:00", "org-1", &["instance_servers"])),
            // Older, but a bill only, and another organisation's inventory: nothing the streaks need in order.
            ("bill-1".to_string(), committed("2026-11-01 04:00:00", "org-1", &["billing_consumptions"])),
            ("inv-other".to_string(), committed("2026-11-01 04:00:00", "org-2", &["instance_servers"])),
            ("inv-3".to_string(), committed("2026-11-03 04:00:00", "org-1", &["instance_servers"])),
        ]);
        let runs = folded(plan(model("ghost_streaks"), &ledger, Some(&held))).expect("a fold");
        assert_eq!(runs, ["bill-1", "inv-other", "inv-3"], "oldest first");

        ledger.insert("inv-1".to_string(), committed("2026-11-01 04:00:00", "org-1", &["instance_ips"]));
        assert!(matches!(plan(model("ghost_streaks"), &ledger, Some(&held)), Plan::Rebuild), "a backfill");
        assert!(folded(plan(model("resources"), &ledger, Some(&held))).is_some(), "resources merge in any order");
    }
}
