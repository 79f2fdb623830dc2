//! `corral bench`: a load generator that speaks the ZooKeeper wire
//! protocol directly (the `jute` crate over tokio TCP), so the same run can
//! be pointed at corral and at Apache ZooKeeper and the numbers compared.
//! `bench/compare.sh` drives it; `docs/performance.md` has the method.
//!
//! - `options`: the command line and its resolved [`options::Plan`]
//! - `session`: handshake and frames of one session
//! - `pipeline`: keeps N requests in flight per session, measures latency
//! - `workload`: what each request is; `layout`: where znodes go
//! - `tree`: untimed setup and cleanup of the bench tree
//! - `histogram`, `report`, `progress`: measuring and printing
//! - `floors`: the disk's fsync rate and the loopback round trip
//! - `procstat`: the server's CPU time and RSS (`--server-pid`)
//! - `runner`: one run from connect to report

mod floors;
mod histogram;
mod layout;
mod options;
mod pipeline;
mod procstat;
mod progress;
mod report;
mod runner;
mod session;
mod tree;
mod workload;

pub use options::{BenchArgs, Workload};

use std::time::Duration;

/// Length of a floor measurement when `--duration` is not given.
const FLOOR_SECS: f64 = 3.0;

/// Runs `corral bench` with parsed arguments: prints the summary and the
/// JSON line; errors when it cannot connect or a connection was lost.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let floor_time = Duration::from_secs_f64(args.duration.unwrap_or(FLOOR_SECS).max(0.01));
    if let Some(dir) = &args.fsync_floor {
        println!("{}", floors::fsync_floor(dir, floor_time)?);
        return Ok(());
    }
    if args.rtt_floor {
        println!("{}", floors::rtt_floor(floor_time)?);
        return Ok(());
    }
    let plan = args.plan()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(runner::run(&plan))?;
    if !plan.json_only {
        println!("{}", report.human());
    }
    println!("{}", report.json());
    anyhow::ensure!(
        !report.connection_lost,
        "a connection was lost; the run ended early"
    );
    Ok(())
}
