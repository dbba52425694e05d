//! Embeds `migrations/*.sql` (versioned, append-only schema history), `models/*.sql` (the current definition
//! of each view) and `sources/*.sql` (the query computing each materialised table): adding one is adding one
//! file, no Rust to touch.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn sql_files(dir: &Path) -> Vec<PathBuf> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    println!("cargo:rerun-if-changed={}", path.display());
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// `0004_billing_daily` → (4, "billing_daily"); anything else stops the build, as does a version used twice.
fn migration_version(stem: &str, seen: &mut Vec<u32>) -> (u32, String) {
    let parsed = stem.split_once('_').and_then(|(number, name)| {
        (number.len() == 4 && !name.is_empty()).then(|| number.parse::<u32>().ok().map(|v| (v, name.to_string())))?
    });
    let Some((version, name)) = parsed else {
        panic!("transform/migrations/{stem}.sql: a migration file is named NNNN_name.sql (e.g. 0005_rdb_raw.sql)");
    };
    assert!(!seen.contains(&version), "transform/migrations: version {version} is used by two files");
    seen.push(version);
    (version, name)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = String::from(
        "/// `transform/migrations/NNNN_name.sql`, in version order.\npub static MIGRATIONS: &[Migration] = &[\n",
    );
    let mut seen = Vec::new();
    for path in sql_files(&root.join("migrations")) {
        let (version, name) = migration_version(&stem(&path), &mut seen);
        let file = path.display().to_string();
        writeln!(code, "    Migration {{ version: {version}, name: {name:?}, sql: include_str!({file:?}) }},").unwrap();
    }
    code.push_str(
        "];\n\n/// `transform/models/<name>.sql`: (name, SQL).\npub static MODEL_FILES: &[(&str, &str)] = &[\n",
    );
    for path in sql_files(&root.join("models")) {
        writeln!(code, "    ({:?}, include_str!({:?})),", stem(&path), path.display().to_string()).unwrap();
    }
    code.push_str(
        "];\n\n/// `transform/sources/<table>.sql`: (table, the SELECT computing its rows).\npub static SOURCE_FILES: &[(&str, &str)] = &[\n",
    );
    for path in sql_files(&root.join("sources")) {
        writeln!(code, "    ({:?}, include_str!({:?})),", stem(&path), path.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("sql_files.rs");
    std::fs::write(out, code).unwrap();
}
