//! `costlake serve`: ClickHouse clients nobody here wrote (the official `clickhouse` crate, Python's
//! clickhouse-connect, plain HTTP) query the embedded warehouse through the real binary, read-only.

mod common;

use std::time::{Duration, Instant};

use common::{port_of, sandbox, simulator};

const PASSWORD: &str = "panel-password-7f3c";

#[derive(clickhouse::Row, serde::Deserialize, Debug, PartialEq)]
struct Count {
    resource_type: String,
    n: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_clients_query_the_embedded_warehouse_read_only() {
    let simulator = simulator("").await;
    let mut sandbox = sandbox(&simulator);
    sandbox.set("COSTLAKE_SOURCES", "account,instance,block");
    sandbox.ok(&["run"]).await;
    let expected = sandbox
        .ok(&[
            "sql",
            "SELECT resource_type, count() AS n FROM inventory_latest GROUP BY ALL ORDER BY resource_type",
            "-f",
            "json",
        ])
        .await
        .json();
    let expected: Vec<(String, u64)> = expected
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["resource_type"].as_str().unwrap().to_string(), row["n"].as_u64().unwrap()))
        .collect();
    assert!(expected.len() >= 3, "{expected:?}");

    // Beyond loopback a password is required, before anything else happens.
    let open = sandbox.run(&["serve", "--listen", "0.0.0.0:0"]).await;
    assert!(!open.success() && open.stderr.contains("COSTLAKE_SERVE_PASSWORD"), "{}", open.stderr);

    sandbox.set("COSTLAKE_SERVE_PASSWORD", PASSWORD);
    let (mut server, line, rest) = sandbox
        .start_reading(
            &["serve", "--listen", "127.0.0.1:0", "--user", "grafana", "--max-execution-time", "2"],
            "serving",
        )
        .await;
    assert!(line.contains("password required") && !line.contains(PASSWORD), "{line}");
    let port = port_of(&line);
    let base = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let ping = http.get(format!("{base}/ping")).send().await.unwrap();
    assert_eq!(ping.text().await.unwrap(), "Ok.\n");

    // The official crate, typed rows (RowBinary), credentials as ClickHouse headers.
    let client = clickhouse::Client::default()
        .with_url(&base)
        .with_user("grafana")
        .with_password(PASSWORD)
        .with_database("costlake");
    let rows: Vec<Count> = client
        .query("SELECT resource_type, count() AS n FROM inventory_latest GROUP BY ALL ORDER BY resource_type")
        .fetch_all()
        .await
        .expect("typed rows through serve");
    let got: Vec<(String, u64)> = rows.into_iter().map(|r| (r.resource_type, r.n)).collect();
    assert_eq!(got, expected);
    // Server-side parameters.
    let echoed: String =
        client.query("SELECT {name:String}").param("name", "it's\ta 'name'").fetch_one().await.expect("param");
    assert_eq!(echoed, "it's\ta 'name'");

    // Writes, DDL, files and the network are refused; nothing is written. So are a second statement (the engine
    // would run it unchecked), settings changes (`DEFAULT` would lift read-only), `INTO OUTFILE` after any
    // statement, a `SETTINGS` clause lifting the time limit, and identifiers that could forge the syntax tree.
    for (statement, code) in [
        ("INSERT INTO price_overrides SELECT * FROM price_overrides", "164"),
        ("DROP TABLE inventory_latest", "164"),
        ("SET readonly = 0", "164"),
        ("SET readonly = DEFAULT", "164"),
        ("SELECT * FROM file('/etc/hostname', 'LineAsString')", "164"),
        ("SELECT file('/etc/hostname')", "164"),
        ("SELECT * FROM url('http://127.0.0.1:9/', 'CSV', 'a String')", "164"),
        ("SELECT 1 INTO OUTFILE 'written-by-serve.csv'", "164"),
        ("DESCRIBE (SELECT 1 AS x) INTO OUTFILE 'written-by-serve.csv'", "164"),
        ("SELECT 1; SELECT * FROM file('/etc/hostname', 'LineAsString')", "62"),
        ("SELECT count() FROM numbers(10) SETTINGS max_execution_time = 0", "164"),
        ("SELECT 1 AS `a\n Literal 'x'`", "164"),
        // The engine's `default` database maps table names to the machine's files.
        ("SELECT * FROM default.`/etc/hostname`", "164"),
        ("EXISTS TABLE default.`/etc/hostname`", "164"),
        ("SELECT 1 WHERE 'x' IN default.`/etc/hostname`", "164"),
        ("SHOW COLUMNS FROM `/etc/hostname` FROM default", "164"),
        ("SELECT * FROM format(Values, 'x String', $$(file('/etc/hostname'))$$)", "164"),
        ("SELECT count() FROM numbers(10) SETTINGS max_threads = -1, max_execution_time = 0", "164"),
        ("SELECT hasColumnInTable('127.0.0.1:9', 'u', 'p', 'db', 't', 'c')", "164"),
    ] {
        let error = client.query(statement).execute().await.expect_err(statement).to_string();
        assert!(error.contains(code), "{statement}: {error}");
    }
    assert!(!sandbox.path("written-by-serve.csv").exists());

    // Basic auth works; a wrong password is refused with ClickHouse's code.
    let sql = "SELECT count() FROM inventory_latest";
    let total: u64 = expected.iter().map(|(_, n)| n).sum();
    let answer = http.post(&base).basic_auth("grafana", Some(PASSWORD)).body(sql).send().await.unwrap();
    assert_eq!(answer.text().await.unwrap().trim(), total.to_string());
    let denied = http.post(&base).basic_auth("grafana", Some("nope")).body(sql).send().await.unwrap();
    assert_eq!(denied.status(), 403);
    assert_eq!(denied.headers()["x-clickhouse-exception-code"], "516");

    // One request's settings never reach the next; the time limit holds whatever the client asks.
    let get = |query: &str, extra: &str| {
        let url = format!("{base}/?user=grafana&password={PASSWORD}&query={query}{extra}");
        let http = http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // A setting that would break the session is not applied; the next request is served as usual.
    let (status, _) = get("SELECT+1", "&max_query_size=1&max_result_rows=1").await;
    let (_, after_hostile) = get("SELECT+getSetting('readonly')", "").await;
    assert_eq!((status, after_hostile.trim()), (200, "2"));
    let (status, _) = get("SELECT+1", "&database=default").await;
    assert_eq!(status, 404, "only costlake's database and system are served");
    // Web pages (an Origin header) are refused.
    let from_page = http
        .post(&base)
        .basic_auth("grafana", Some(PASSWORD))
        .header("Origin", "http://evil.example")
        .body("SELECT 1")
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), 403);
    let (_, before) = get("SELECT+getSetting('max_threads')", "").await;
    let (_, during) = get("SELECT+getSetting('max_threads')", "&max_threads=1").await;
    let (_, after) = get("SELECT+getSetting('max_threads')", "").await;
    assert_eq!((during.trim(), after.trim()), ("1", before.trim()));
    let slow = "SELECT+sum(sleepEachRow(0.25))+FROM+numbers(40)+SETTINGS+max_block_size%3D1";
    let started = Instant::now();
    let long = tokio::spawn(get(slow, "&max_execution_time=0"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The engine is busy; the server is not.
    let ping_started = Instant::now();
    http.get(format!("{base}/ping")).send().await.unwrap();
    assert!(ping_started.elapsed() < Duration::from_millis(500), "ping waited {:?}", ping_started.elapsed());
    let (status, body) = long.await.unwrap();
    assert!(status >= 400 && body.contains("Code: 159"), "{status} {body}");
    assert!(started.elapsed() < Duration::from_secs(8), "the 2 s limit held the query {:?}", started.elapsed());

    // clickhouse-connect, Python's client, as its users call it.
    let python = costlake_tests::engine::clickhouse_connect_python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/clients/clickhouse_connect_check.py");
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(python).args([script, &port.to_string(), "grafana", PASSWORD]).output(),
    )
    .await
    .expect("clickhouse-connect finished")
    .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let python: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    for (resource_type, n) in &expected {
        assert_eq!(python["counts"][resource_type], *n, "{python}");
    }
    assert_eq!(python["protocol_version"], 54405, "{python}");
    let first = &expected[0].0;
    assert_eq!(python["low_cardinality"][0], *first, "{python}");
    assert_eq!(python["low_cardinality"][1], format!("['{first}']"), "{python}");
    assert_eq!(python["amount"], "123.456789012");
    assert!(python["nothing"].is_null());
    assert!(python["insert"].as_str().unwrap().contains("164"), "{python}");
    assert!(python["wrong_password"].as_str().unwrap().contains("516"), "{python}");

    server.kill().await.expect("stop serve");
    let _ = server.wait().await;
    let log = rest.lock().unwrap().clone();
    assert!(!log.contains(PASSWORD), "{log}");
}
