//! Finds the embedded engine for tests. Tests never skip: a missing library fails them with the fix.

use std::path::PathBuf;

/// The libchdb.so the tests use: `COSTLAKE_CHDB_LIB`, else costlake's default install location.
pub fn chdb_library() -> PathBuf {
    let path = std::env::var_os("COSTLAKE_CHDB_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(costlake_transform::warehouse::chdb::default_library_path);
    assert!(
        path.exists(),
        "the embedded ClickHouse engine is not installed at {}: run `make deps` (scripts/install-chdb.sh) first",
        path.display()
    );
    path
}

/// The Python with clickhouse-connect that the `costlake serve` tests drive (`make deps`,
/// scripts/install-pyclients.sh): `COSTLAKE_TEST_PYTHON`, else the script's install location.
pub fn clickhouse_connect_python() -> PathBuf {
    let path = std::env::var_os("COSTLAKE_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
            .expect("HOME or XDG_DATA_HOME");
        data.join("costlake/pyclients/clickhouse-connect-1.12.0/bin/python")
    });
    assert!(
        path.exists(),
        "clickhouse-connect is not installed at {}: run `make deps` (scripts/install-pyclients.sh) first",
        path.display()
    );
    path
}

/// Debian's Chromium, for the HTML report's test (`scripts/install-chromium.sh`; `COSTLAKE_TEST_CHROMIUM`
/// overrides it).
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("COSTLAKE_TEST_CHROMIUM").map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).map(|dir| dir.join("chromium")).find(|candidate| candidate.exists())
        })
    });
    path.unwrap_or_else(|| panic!("chromium is not installed: run `make test` (scripts/install-chromium.sh) first"))
}
