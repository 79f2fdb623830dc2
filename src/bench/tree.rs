//! Untimed phases around a measurement: creating the bench tree (root,
//! directories, keys) before, deleting it after. Both reuse the pipelined
//! engine, so a million keys take seconds, not minutes.

use super::layout::Layout;
use super::pipeline::{run_phase, Limits, PhaseOutcome, Shared};
use super::session::Session;
use super::workload::{children_of, create, delete, get_children, Script};
use jute::codes::{create_mode, Code};
use std::sync::Arc;

/// What an untimed phase left behind: the sessions still connected, the
/// number of failed requests, and why connections were lost.
pub struct Untimed {
    pub sessions: Vec<Session>,
    pub errors: u64,
    pub lost: Vec<String>,
    pub error_samples: Vec<String>,
}

impl Untimed {
    fn new(sessions: Vec<Session>) -> Untimed {
        Untimed {
            sessions,
            errors: 0,
            lost: Vec::new(),
            error_samples: Vec::new(),
        }
    }

    /// Runs one script and folds its outcome in; false once a connection
    /// is lost (the caller stops).
    async fn step(&mut self, script: Arc<Script>, limits: &Limits, seed: u64) -> bool {
        let sessions = std::mem::take(&mut self.sessions);
        let (alive, out) = run_phase(
            sessions,
            script,
            limits.clone(),
            Arc::new(Shared::default()),
            seed,
        )
        .await;
        self.sessions = alive;
        self.absorb(out);
        self.lost.is_empty() && !self.sessions.is_empty()
    }

    fn absorb(&mut self, out: PhaseOutcome) {
        self.errors += out.errors;
        self.lost.extend(out.lost);
        for e in out.error_samples {
            if self.error_samples.len() < 5 {
                self.error_samples.push(e);
            }
        }
    }
}

/// Creates the root, the directories and `keys` keys holding `value`.
pub async fn setup(
    sessions: Vec<Session>,
    layout: &Layout,
    value: &[u8],
    keys: u64,
    limits: &Limits,
) -> Untimed {
    let mut u = Untimed::new(sessions);
    for level in layout.directories() {
        let reqs = level
            .into_iter()
            .map(|p| create(p, &[], create_mode::PERSISTENT))
            .collect();
        if !u.step(Arc::new(Script::new(reqs)), limits, 1).await {
            return u;
        }
    }
    if keys > 0 {
        let reqs = (0..keys)
            .map(|i| create(layout.key(i), value, create_mode::PERSISTENT))
            .collect();
        u.step(Arc::new(Script::new(reqs)), limits, 2).await;
    }
    u
}

/// Deletes the bench root and everything under it. The tree is three
/// levels of directories over leaves (see `layout`), so three listings
/// find every node without listing the leaves themselves.
pub async fn cleanup(sessions: Vec<Session>, layout: &Layout, limits: &Limits) -> Untimed {
    let mut u = Untimed::new(sessions);
    let mut levels: Vec<Vec<String>> = vec![vec![layout.root().to_string()]];
    for _ in 0..3 {
        let Some(parents) = levels.last().cloned() else {
            break;
        };
        let script = Arc::new(Script::collecting(
            parents.iter().cloned().map(get_children).collect(),
        ));
        if !u.step(script.clone(), limits, 3).await {
            return u;
        }
        let mut next = Vec::new();
        for reply in script.take_replies() {
            let (i, err, body) = (reply.index, reply.err, reply.body);
            let Some(parent) = parents.get(i as usize) else {
                continue;
            };
            if err == Code::NoNode.as_i32() && i == 0 && levels.len() == 1 {
                // No tree at all (setup never ran): nothing to delete.
                u.errors = u.errors.saturating_sub(1);
                return u;
            }
            next.extend(
                children_of(&body)
                    .into_iter()
                    .map(|c| format!("{parent}/{c}")),
            );
        }
        levels.push(next);
    }
    for level in levels.into_iter().rev() {
        if level.is_empty() {
            continue;
        }
        let script = Arc::new(Script::new(level.into_iter().map(delete).collect()));
        if !u.step(script, limits, 4).await {
            return u;
        }
    }
    u
}
