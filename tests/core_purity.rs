//! The core is deterministic: no runtime, files, sockets, threads, clock or
//! ambient randomness. This test reads its sources and fails on any use of
//! them, so the rule cannot erode silently. (`.ci/run` also builds the lib
//! with `--no-default-features` and checks tokio is not in its dependency
//! graph.)

use std::path::Path;

const BANNED: &[&str] = &[
    "tokio",
    "std::fs",
    "std::net",
    "std::thread",
    "std::time",
    "SystemTime",
    "Instant",
    "thread_rng",
    "rand::",
    "RandomState",
    "std::process",
    "std::env",
];

fn scan(dir: &Path, hits: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("core source dir is readable") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            scan(&path, hits);
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source is UTF-8");
        for (no, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for b in BANNED {
                if code.contains(b) {
                    hits.push(format!("{}:{}: {b}: {line}", path.display(), no + 1));
                }
            }
        }
    }
}

#[test]
fn core_uses_no_io_clock_or_runtime() {
    let mut hits = Vec::new();
    scan(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"),
        &mut hits,
    );
    assert!(
        hits.is_empty(),
        "banned APIs in src/core:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_scan_sees_core_sources() {
    // Guards against the scan silently reading nothing.
    let server =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core/server.rs"))
            .expect("src/core/server.rs exists");
    assert!(server.contains("pub struct Server"));
}
