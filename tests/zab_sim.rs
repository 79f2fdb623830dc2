//! Whole ensembles under the seeded simulator (`corral::sim`): crashes that
//! lose unsynced writes, partitions, broken links, lossy and reordered
//! votes. Every failure names its seed.
//!
//! - `CORRAL_SIM_SEEDS=N` runs N seeds per configuration (default 1000).
//! - `CORRAL_SIM_SEED=S` replays one seed in every configuration.

use corral::core::zab::PlantedBug;
use corral::sim::{self, Options};

fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("CORRAL_SIM_SEED") {
        return vec![s.parse().expect("CORRAL_SIM_SEED must be a number")];
    }
    let n: u64 = std::env::var("CORRAL_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    (1..=n).collect()
}

fn run_all(name: &str, opts: &Options) {
    let mut failures = Vec::new();
    let mut committed = 0;
    let mut acked = 0;
    let mut crashes = 0;
    let mut partitions = 0;
    let mut truncs = 0;
    let mut snaps = 0;
    let seeds = seeds();
    for &seed in &seeds {
        match sim::run(seed, opts) {
            Ok(r) => {
                committed += r.committed;
                acked += r.acked;
                crashes += r.crashes;
                partitions += r.partitions;
                truncs += r.truncs;
                snaps += r.snaps;
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!(
        "{name}: {} seeds, {} failed; {committed} entries committed, {acked} writes acknowledged, {crashes} crashes, {partitions} partitions, {truncs} TRUNC and {snaps} SNAP syncs",
        seeds.len(),
        failures.len()
    );
    if let Some(first) = failures.first() {
        panic!(
            "{name}: {} of {} seeds failed; first:\n{first}\nreplay: CORRAL_SIM_SEED=<seed> cargo test --release --test zab_sim",
            failures.len(),
            seeds.len()
        );
    }
    // The faults must actually drive every sync path.
    assert!(acked > 0, "{name}: no write was ever acknowledged");
    if seeds.len() >= 100 {
        assert!(
            truncs > 0 && snaps > 0,
            "{name}: TRUNC or SNAP never exercised"
        );
    }
}

#[test]
fn three_voters_with_every_fault() {
    run_all("3 voters", &Options::with_faults(3));
}

#[test]
fn five_voters_with_every_fault() {
    run_all("5 voters", &Options::with_faults(5));
}

#[test]
fn three_voters_and_an_observer() {
    let mut o = Options::with_faults(3);
    o.observers = 1;
    run_all("3 voters + 1 observer", &o);
}

/// The first seed (of `limit`) on which the planted bug breaks an invariant.
fn catches(bug: PlantedBug, limit: u64) -> Option<(u64, String)> {
    let mut o = Options::with_faults(3);
    o.planted = bug;
    (1..=limit).find_map(|seed| sim::run(seed, &o).err().map(|e| (seed, e)))
}

#[test]
fn planted_commit_before_quorum_is_caught() {
    let (seed, e) = catches(PlantedBug::CommitBeforeQuorum, 500)
        .expect("committing before a quorum acked went unnoticed in 500 seeds");
    eprintln!(
        "commit-before-quorum caught by seed {seed}: {}",
        e.lines().next().unwrap_or("")
    );
}

#[test]
fn planted_skip_trunc_is_caught() {
    let (seed, e) =
        catches(PlantedBug::SkipTrunc, 500).expect("skipping TRUNC went unnoticed in 500 seeds");
    eprintln!(
        "skip-trunc caught by seed {seed}: {}",
        e.lines().next().unwrap_or("")
    );
}
