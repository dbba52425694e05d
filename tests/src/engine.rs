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
