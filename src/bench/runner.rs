//! One bench run from start to end: connect, set up the tree, the timed
//! phase, clean up, close, report. Failures to connect are errors; a
//! connection lost later ends the run early with what was measured.

use super::layout::Layout;
use super::options::Plan;
use super::pipeline::{run_phase, Limits, Shared};
use super::procstat;
use super::progress::Progress;
use super::report::{Report, ServerUsage};
use super::session::Session;
use super::tree::{cleanup, setup};
use super::workload::Timed;
use anyhow::Context;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

/// Requests in flight per session during setup and cleanup: those phases
/// are not measured, so they always pipeline deeply.
const UNTIMED_OUTSTANDING: usize = 64;

/// Runs the plan and returns its report (also when a connection was lost:
/// `connection_lost` says so).
pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    let sessions = connect_all(plan).await?;
    let layout = Layout::new(&std::process::id().to_string(), plan.fanout, plan.keys);
    let value = vec![b'x'; plan.value_size];
    let untimed = Limits {
        budget: None,
        deadline: None,
        outstanding: plan.outstanding.max(UNTIMED_OUTSTANDING),
        reply_timeout: plan.reply_timeout,
    };
    let mut report = Report {
        workload: plan.workload.name().to_string(),
        sessions: plan.sessions,
        outstanding: plan.outstanding,
        value_size: plan.value_size,
        ..Report::default()
    };

    let started = Instant::now();
    let set_up = setup(sessions, &layout, &value, plan.keys, &untimed).await;
    report.setup_errors = set_up.errors;
    say(
        plan,
        &format!(
            "bench: setup {} ({} keys) in {:.1}s, {} errors {:?}",
            layout.root(),
            plan.keys,
            started.elapsed().as_secs_f64(),
            set_up.errors,
            set_up.error_samples
        ),
    );
    let mut sessions = set_up.sessions;
    let mut lost = set_up.lost;

    if lost.is_empty() {
        let source = Arc::new(Timed {
            workload: plan.workload,
            layout: Arc::new(layout.clone()),
            value,
            sessions: plan.sessions,
            read_ratio: plan.read_ratio,
            multi_size: plan.multi_size,
            keys: plan.keys,
        });
        let shared = Arc::new(Shared::default());
        let limits = Limits {
            budget: plan.stop.ops.map(|n| Arc::new(AtomicU64::new(n))),
            deadline: plan.stop.duration.map(|d| Instant::now() + d),
            outstanding: plan.outstanding,
            reply_timeout: plan.reply_timeout,
        };
        let cpu_before = server_cpu(plan);
        let own_before = procstat::cpu_us(std::process::id()).ok();
        let progress = Progress::start(plan.workload.name().into(), shared.clone(), plan.json_only);
        let (alive, out) = run_phase(sessions, source, limits, shared, plan.seed).await;
        drop(progress);
        report.server = usage(plan, cpu_before);
        report.client_cpu_us = own_before.and_then(|before| {
            let after = procstat::cpu_us(std::process::id()).ok()?;
            Some(after.saturating_sub(before))
        });
        sessions = alive;
        report.ops = out.ops;
        report.secs = out.elapsed.as_secs_f64();
        report.errors = out.errors;
        report.latency = out.latency.percentiles();
        if !out.error_samples.is_empty() {
            say(
                plan,
                &format!("bench: error samples {:?}", out.error_samples),
            );
        }
        lost.extend(out.lost);
    }

    if !plan.keep && !sessions.is_empty() {
        let t = Instant::now();
        let cleaned = cleanup(sessions, &layout, &untimed).await;
        report.cleanup_errors = cleaned.errors;
        say(
            plan,
            &format!(
                "bench: cleanup in {:.1}s, {} errors {:?}",
                t.elapsed().as_secs_f64(),
                cleaned.errors,
                cleaned.error_samples
            ),
        );
        sessions = cleaned.sessions;
        lost.extend(cleaned.lost);
    }
    for s in sessions {
        s.close().await;
    }
    for why in &lost {
        eprintln!("bench: {why}");
    }
    report.connection_lost = !lost.is_empty();
    Ok(report)
}

/// Opens every session (spread round-robin over the servers) at once.
async fn connect_all(plan: &Plan) -> anyhow::Result<Vec<Session>> {
    let mut tasks = Vec::with_capacity(plan.sessions);
    for i in 0..plan.sessions {
        let server = plan.servers[i % plan.servers.len()].clone();
        let timeout = plan.session_timeout_ms;
        tasks.push(tokio::spawn(async move {
            Session::connect(i, &server, timeout)
                .await
                .with_context(|| format!("session {i} to {server}"))
        }));
    }
    let mut sessions = Vec::with_capacity(plan.sessions);
    for t in tasks {
        sessions.push(t.await.context("connect task")??);
    }
    Ok(sessions)
}

/// The server's CPU time now, if `--server-pid` was given and readable.
fn server_cpu(plan: &Plan) -> Option<u64> {
    let pid = plan.server_pid?;
    match procstat::cpu_us(pid) {
        Ok(us) => Some(us),
        Err(e) => {
            eprintln!("bench: cannot read the CPU time of pid {pid}: {e}");
            None
        }
    }
}

/// The server's CPU time since `before`, and its RSS now.
fn usage(plan: &Plan, before: Option<u64>) -> Option<ServerUsage> {
    let (pid, before) = (plan.server_pid?, before?);
    let after = server_cpu(plan)?;
    let rss_kb = procstat::rss_kb(pid).unwrap_or(0);
    Some(ServerUsage {
        cpu_us: after.saturating_sub(before),
        rss_kb,
    })
}

/// A status line on stderr unless `--json-only`.
fn say(plan: &Plan, line: &str) {
    if !plan.json_only {
        eprintln!("{line}");
    }
}
