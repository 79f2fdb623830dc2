//! History checker for ensemble fault tests.
//!
//! Concurrent clients record every operation they attempt on a set of
//! independent registers (znode paths) into a shared [`History`] while the
//! test kills, stops and partitions servers. Afterwards the checks here decide
//! whether what the clients observed is something ZooKeeper may legally show:
//!
//! * [`check_writes_linearizable`]: acknowledged writes on one key form a
//!   single order (the znode version each `setData` reported) that respects
//!   real time, and the state every server ends with contains the last of them.
//! * [`check_reads_sequential`]: each session reads only values that were
//!   really written and never goes back in that order (monotonic reads,
//!   read-your-writes); a value a read returned was committed, so writes sent
//!   after that read are ordered after it.
//!
//! Outcomes follow the usual rules for histories with faults: `Ok` took effect,
//! `Failed` certainly did not, `Unknown` (connection loss, timeout, or an
//! operation that was never completed) may or may not have, at any time after
//! its invocation. Times are nanoseconds on one monotonic clock shared by all
//! clients of the test process.
//!
//! The file uses only `std` so integration tests can include it with
//! `#[path = "support/history.rs"] mod history;`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

/// Completion time of an operation that has not completed (yet); such an
/// operation is treated as `Unknown`, i.e. completing at +infinity.
pub const PENDING: u64 = u64::MAX;

/// Violations quoted in full in one error message; the rest are counted.
const MAX_REPORTED: usize = 30;

/// Handle returned by [`History::invoke`] so the client task can later record
/// how that operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub usize);

/// What an operation did to its register, with the result the server reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `setData` of a value unique per key. `version` is the znode version the
    /// server returned; it must be `Some` for `Ok` writes and is ignored
    /// otherwise.
    Write { value: u64, version: Option<i32> },
    /// `getData`. `value` is what was read (`None`: no data / initial state);
    /// it is only meaningful for `Ok` reads.
    Read { value: Option<u64> },
}

/// How an operation ended, which decides what the checks may assume about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The server acknowledged it: it took effect within `[invoke, complete]`.
    Ok,
    /// The server rejected it in a way that guarantees it had no effect.
    Failed,
    /// Connection loss, timeout, or never completed: it may take effect at any
    /// time after its invocation, or never.
    Unknown,
}

/// One recorded operation: who did what to which key, when, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Identity within the history, used in violation reports.
    pub id: OpId,
    /// The client, which must also identify one ZooKeeper session: ordering
    /// guarantees hold per session, so a client that gets a new session after
    /// expiry must record under a new id.
    pub client: u32,
    /// The register (znode path).
    pub key: String,
    /// What was attempted, with its result.
    pub kind: Kind,
    /// Nanoseconds at which the request was about to be sent.
    pub invoke: u64,
    /// Nanoseconds at which the response had been received; [`PENDING`] if
    /// it never completed.
    pub complete: u64,
    /// How it ended.
    pub outcome: Outcome,
}

impl Op {
    /// The value this operation writes, if it is a write.
    fn written_value(&self) -> Option<u64> {
        match self.kind {
            Kind::Write { value, .. } => Some(value),
            Kind::Read { .. } => None,
        }
    }

    /// The version of an acknowledged write that reported one.
    fn ok_version(&self) -> Option<i32> {
        match (self.outcome, &self.kind) {
            (Outcome::Ok, Kind::Write { version, .. }) => *version,
            _ => None,
        }
    }

    /// What an acknowledged read returned; `None` for anything else.
    fn ok_read(&self) -> Option<Option<u64>> {
        match (self.outcome, &self.kind) {
            (Outcome::Ok, Kind::Read { value }) => Some(*value),
            _ => None,
        }
    }

    /// Whether this is an acknowledged write.
    fn is_ok_write(&self) -> bool {
        self.outcome == Outcome::Ok && matches!(self.kind, Kind::Write { .. })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op#{} client {} ", self.id.0, self.client)?;
        match (&self.kind, self.outcome) {
            (Kind::Write { value, version }, Outcome::Ok) => {
                write!(f, "write {:?} := {value} -> Ok, ", self.key)?;
                match version {
                    Some(v) => write!(f, "version {v}")?,
                    None => write!(f, "no version")?,
                }
            }
            (Kind::Write { value, .. }, outcome) => {
                write!(f, "write {:?} := {value} -> {outcome:?}", self.key)?
            }
            (Kind::Read { value }, Outcome::Ok) => {
                write!(f, "read {:?} -> Ok, ", self.key)?;
                match value {
                    Some(v) => write!(f, "{v}")?,
                    None => write!(f, "none")?,
                }
            }
            (Kind::Read { .. }, outcome) => write!(f, "read {:?} -> {outcome:?}", self.key)?,
        }
        let end = match (self.outcome, self.complete) {
            (_, PENDING) => "inf (never completed)".to_string(),
            (Outcome::Unknown, t) => format!("inf (gave up at {})", fmt_ns(t)),
            (_, t) => fmt_ns(t),
        };
        write!(f, " [{} .. {}]", fmt_ns(self.invoke), end)
    }
}

/// Nanoseconds as milliseconds with full precision, for reports.
fn fmt_ns(ns: u64) -> String {
    format!("{}.{:06}ms", ns / 1_000_000, ns % 1_000_000)
}

/// The shared recorder: client tasks call `invoke` before sending a request
/// and one of the `complete_*` methods after its response (or failure), from
/// any thread; share it through an `Arc`.
pub struct History {
    start: Instant,
    ops: Mutex<Vec<Op>>,
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl History {
    /// An empty history whose clock starts now.
    pub fn new() -> Self {
        History {
            start: Instant::now(),
            ops: Mutex::new(Vec::new()),
        }
    }

    /// Nanoseconds since the history was created: the clock every recorded
    /// time is measured on.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(PENDING - 1)
    }

    /// Records that `client` is about to send `kind` on `key`. Until it is
    /// completed the operation counts as `Unknown`, so a task that is
    /// cancelled mid-request leaves a truthful record.
    pub fn invoke(&self, client: u32, key: impl Into<String>, kind: Kind) -> OpId {
        let key = key.into();
        let invoke = self.now();
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        let id = OpId(ops.len());
        ops.push(Op {
            id,
            client,
            key,
            kind,
            invoke,
            complete: PENDING,
            outcome: Outcome::Unknown,
        });
        id
    }

    /// Shorthand for invoking a write of `value` (version still unknown).
    pub fn invoke_write(&self, client: u32, key: impl Into<String>, value: u64) -> OpId {
        self.invoke(
            client,
            key,
            Kind::Write {
                value,
                version: None,
            },
        )
    }

    /// Shorthand for invoking a read (value still unknown).
    pub fn invoke_read(&self, client: u32, key: impl Into<String>) -> OpId {
        self.invoke(client, key, Kind::Read { value: None })
    }

    /// Records how a write ended; `version` is the znode version the server
    /// returned (required for `Outcome::Ok`, ignored otherwise).
    pub fn complete_write(&self, id: OpId, outcome: Outcome, version: Option<i32>) {
        self.finish(id, outcome, |kind| match kind {
            Kind::Write { version: v, .. } => {
                *v = version;
                Ok(())
            }
            Kind::Read { .. } => Err("complete_write on a read"),
        });
    }

    /// Records how a read ended; `value` is what it returned (meaningful only
    /// for `Outcome::Ok`).
    pub fn complete_read(&self, id: OpId, outcome: Outcome, value: Option<u64>) {
        self.finish(id, outcome, |kind| match kind {
            Kind::Read { value: v } => {
                *v = value;
                Ok(())
            }
            Kind::Write { .. } => Err("complete_read on a write"),
        });
    }

    /// Records that an operation of either kind certainly had no effect.
    pub fn complete_failed(&self, id: OpId) {
        self.finish(id, Outcome::Failed, |_| Ok(()));
    }

    /// Records that an operation of either kind ended without telling whether
    /// it took effect (connection loss, timeout).
    pub fn complete_unknown(&self, id: OpId) {
        self.finish(id, Outcome::Unknown, |_| Ok(()));
    }

    /// A snapshot of every operation recorded so far, in invocation order.
    pub fn ops(&self) -> Vec<Op> {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stamps the completion time and outcome; misuse is a bug in the test,
    /// so it panics (after releasing the lock).
    fn finish(
        &self,
        id: OpId,
        outcome: Outcome,
        set: impl FnOnce(&mut Kind) -> Result<(), &'static str>,
    ) {
        let complete = self.now();
        let misuse = {
            let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
            match ops.get_mut(id.0) {
                None => Some(format!("op#{} was never invoked", id.0)),
                Some(op) if op.complete != PENDING => Some(format!("op#{} completed twice", id.0)),
                Some(op) => match set(&mut op.kind) {
                    Ok(()) => {
                        op.complete = complete.max(op.invoke);
                        op.outcome = outcome;
                        None
                    }
                    Err(e) => Some(format!("{e} (op#{})", id.0)),
                },
            }
        };
        if let Some(msg) = misuse {
            panic!("History misuse: {msg}");
        }
    }
}

/// Checks the write side of every key: acknowledged writes have distinct
/// versions, their version order respects real time, and `final_values` (what
/// every server holds at the end, already known to agree) is the value of the
/// highest-versioned acknowledged write or of an `Unknown` write that may have
/// landed after it. Keys written in the history must appear in
/// `final_values`; keys only there must be absent (`None`).
pub fn check_writes_linearizable(
    history: &[Op],
    final_values: &HashMap<String, Option<u64>>,
) -> Result<(), String> {
    let mut found = Violations::new("write order", history.len());
    let keys = by_key(history);
    for (&key, ops) in &keys {
        let writers = writers(key, ops, &mut found);
        let acked = acked_versions(key, ops, &mut found);
        check_real_time(key, &acked, &mut found);
        let last_acked = acked.last().copied();
        check_final(key, ops, &writers, last_acked, final_values, &mut found);
    }
    let mut untouched: Vec<(&String, &Option<u64>)> = final_values
        .iter()
        .filter(|(key, _)| !keys.contains_key(key.as_str()))
        .collect();
    untouched.sort();
    for (key, value) in untouched {
        if let Some(v) = value {
            found.push(
                key,
                format!("final value {v} on a key no operation in the history touched"),
            );
        }
    }
    found.into_result()
}

/// Checks the read side of every key: each acknowledged read returned a value
/// some non-failed write really wrote, and no earlier than it was invoked; a
/// session never reads a value older (in acknowledged version order) than one
/// it already read or wrote, nor the initial state after seeing a value; and a
/// write sent after a read returned is ordered after the value it returned
/// (servers only expose committed state).
pub fn check_reads_sequential(history: &[Op]) -> Result<(), String> {
    let mut found = Violations::new("read consistency", history.len());
    for (&key, ops) in &by_key(history) {
        let writers = writers(key, ops, &mut found);
        check_read_sources(key, ops, &writers, &mut found);
        let mut clients: BTreeMap<u32, Vec<&Op>> = BTreeMap::new();
        for &op in ops {
            clients.entry(op.client).or_default().push(op);
        }
        for client_ops in clients.values() {
            check_session_order(key, client_ops, &writers, &mut found);
        }
    }
    found.into_result()
}

/// Runs both checks and reports every violation of either.
pub fn check_all(
    history: &[Op],
    final_values: &HashMap<String, Option<u64>>,
) -> Result<(), String> {
    let errors: Vec<String> = [
        check_writes_linearizable(history, final_values),
        check_reads_sequential(history),
    ]
    .into_iter()
    .filter_map(Result::err)
    .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// Counts of operations by kind and outcome, so a test can log what it
/// checked and assert that its history is not trivially empty.
pub fn summary(history: &[Op]) -> String {
    let mut counts = [[0usize; 3]; 2];
    for op in history {
        let kind = usize::from(matches!(op.kind, Kind::Read { .. }));
        let outcome = match op.outcome {
            Outcome::Ok => 0,
            Outcome::Failed => 1,
            Outcome::Unknown => 2,
        };
        counts[kind][outcome] += 1;
    }
    let keys = by_key(history).len();
    let mut clients: Vec<u32> = history.iter().map(|op| op.client).collect();
    clients.sort_unstable();
    clients.dedup();
    format!(
        "{} ops on {} keys by {} clients: writes ok/failed/unknown {}/{}/{}, \
         reads ok/failed/unknown {}/{}/{}",
        history.len(),
        keys,
        clients.len(),
        counts[0][0],
        counts[0][1],
        counts[0][2],
        counts[1][0],
        counts[1][1],
        counts[1][2],
    )
}

/// Collects violations of one check so a failing test shows all of them.
struct Violations {
    check: &'static str,
    history_len: usize,
    found: Vec<String>,
}

impl Violations {
    fn new(check: &'static str, history_len: usize) -> Self {
        Violations {
            check,
            history_len,
            found: Vec::new(),
        }
    }

    fn push(&mut self, key: &str, message: String) {
        self.found.push(format!("key {key:?}: {message}"));
    }

    fn into_result(self) -> Result<(), String> {
        if self.found.is_empty() {
            return Ok(());
        }
        let mut out = format!(
            "{} check failed: {} violation(s) in a history of {} ops",
            self.check,
            self.found.len(),
            self.history_len
        );
        for message in self.found.iter().take(MAX_REPORTED) {
            out.push_str("\n  - ");
            out.push_str(message);
        }
        if self.found.len() > MAX_REPORTED {
            out.push_str(&format!(
                "\n  ... and {} more",
                self.found.len() - MAX_REPORTED
            ));
        }
        Err(out)
    }
}

/// The operations of each key, in history order; keys sorted so reports are
/// deterministic.
fn by_key(history: &[Op]) -> BTreeMap<&str, Vec<&Op>> {
    let mut keys: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history {
        keys.entry(op.key.as_str()).or_default().push(op);
    }
    keys
}

/// Maps each written value of a key to the write that wrote it. Values must be
/// unique per key (the tests guarantee it); a repeat is reported because it
/// would make every other conclusion about that value ambiguous.
fn writers<'a>(key: &str, ops: &[&'a Op], found: &mut Violations) -> HashMap<u64, &'a Op> {
    let mut writers: HashMap<u64, &'a Op> = HashMap::new();
    for &op in ops {
        if let Some(value) = op.written_value() {
            if let Some(first) = writers.get(&value) {
                found.push(
                    key,
                    format!(
                        "value {value} written twice (test bug: values must be unique per key): \
                         {first} and {op}"
                    ),
                );
            } else {
                writers.insert(value, op);
            }
        }
    }
    writers
}

/// Acknowledged writes of a key with their versions, sorted by version;
/// reports acknowledged writes without a version and duplicate versions.
fn acked_versions<'a>(key: &str, ops: &[&'a Op], found: &mut Violations) -> Vec<(i32, &'a Op)> {
    let mut acked = Vec::new();
    for &op in ops.iter().filter(|op| op.is_ok_write()) {
        match op.ok_version() {
            Some(version) => acked.push((version, op)),
            None => found.push(
                key,
                format!("acknowledged write has no version (recording bug): {op}"),
            ),
        }
    }
    acked.sort_by_key(|&(version, op)| (version, op.id));
    for pair in acked.windows(2) {
        let ((va, a), (vb, b)) = (pair[0], pair[1]);
        if va == vb {
            found.push(
                key,
                format!(
                    "duplicate version {va}: two acknowledged writes claim the same znode \
                     version: {a} and {b}"
                ),
            );
        }
    }
    acked
}

/// If acknowledged write A completed before acknowledged write B was invoked,
/// A must have the lower version. Walks versions downwards, remembering the
/// earliest-completing write with a higher version.
fn check_real_time(key: &str, acked: &[(i32, &Op)], found: &mut Violations) {
    let mut earliest_higher: Option<(i32, &Op)> = None;
    let mut i = acked.len();
    while i > 0 {
        // Writes sharing a version are judged against strictly higher ones
        // only; the duplicate itself is reported elsewhere.
        let version = acked[i - 1].0;
        let mut j = i;
        while j > 0 && acked[j - 1].0 == version {
            j -= 1;
        }
        for &(vb, b) in &acked[j..i] {
            if let Some((va, a)) = earliest_higher {
                if a.complete < b.invoke {
                    found.push(
                        key,
                        format!(
                            "real-time order violated: {a} completed before {b} was invoked, \
                             yet got the higher version ({va} > {vb})"
                        ),
                    );
                }
            }
        }
        for &(vb, b) in &acked[j..i] {
            earliest_higher = earliest_higher
                .filter(|&(_, a)| a.complete <= b.complete)
                .or(Some((vb, b)));
        }
        i = j;
    }
}

/// The final state must hold the last acknowledged write, or an `Unknown`
/// write that can have landed after every acknowledged one.
fn check_final(
    key: &str,
    ops: &[&Op],
    writers: &HashMap<u64, &Op>,
    last_acked: Option<(i32, &Op)>,
    final_values: &HashMap<String, Option<u64>>,
    found: &mut Violations,
) {
    let has_writes = ops.iter().any(|op| op.written_value().is_some());
    let final_value = match final_values.get(key) {
        Some(value) => *value,
        None => {
            if has_writes {
                found.push(
                    key,
                    "no final value recorded for a key the history writes".to_string(),
                );
            }
            return;
        }
    };
    let Some(value) = final_value else {
        if let Some((version, last)) = last_acked {
            found.push(
                key,
                format!(
                    "lost acknowledged write: the final state has no value, but {last} \
                     was acknowledged with version {version}"
                ),
            );
        }
        return;
    };
    let Some(&writer) = writers.get(&value) else {
        found.push(
            key,
            format!("final value {value} was written by no operation in the history"),
        );
        return;
    };
    match writer.outcome {
        Outcome::Failed => found.push(
            key,
            format!("final value {value} comes from a write that failed: {writer}"),
        ),
        Outcome::Ok => {
            if let (Some(version), Some((last_version, last))) = (writer.ok_version(), last_acked) {
                if version < last_version {
                    found.push(
                        key,
                        format!(
                            "lost acknowledged write: the final value {value} is from {writer}, \
                             but {last} was acknowledged later with version {last_version}"
                        ),
                    );
                }
            }
        }
        Outcome::Unknown => {
            // An unknown write may land arbitrarily late, unless a read shows it
            // had already landed before some acknowledged write was sent.
            let first_seen = ops
                .iter()
                .filter(|op| op.ok_read() == Some(Some(value)))
                .min_by_key(|op| op.complete);
            let last_sent = ops
                .iter()
                .filter(|op| op.is_ok_write())
                .max_by_key(|op| op.invoke);
            if let (Some(seen), Some(later)) = (first_seen, last_sent) {
                if seen.complete < later.invoke {
                    found.push(
                        key,
                        format!(
                            "final value {value} from unknown write {writer} was already \
                             visible to {seen}, before {later} was invoked, so it was \
                             overwritten and cannot be final"
                        ),
                    );
                }
            }
        }
    }
}

/// Every acknowledged read returns a value some non-failed write wrote and had
/// invoked by then; and a read shows committed state, so acknowledged writes
/// invoked after the read returned carry higher versions than the value read.
fn check_read_sources(key: &str, ops: &[&Op], writers: &HashMap<u64, &Op>, found: &mut Violations) {
    // Acknowledged writes by invocation time, with the lowest version among
    // each suffix: the lowest version any write invoked after a time can have.
    let mut by_invoke: Vec<(u64, i32, &Op)> = ops
        .iter()
        .filter_map(|&op| op.ok_version().map(|v| (op.invoke, v, op)))
        .collect();
    by_invoke.sort_by_key(|&(invoke, version, op)| (invoke, version, op.id));
    let mut suffix_min: Vec<(i32, &Op)> = Vec::with_capacity(by_invoke.len());
    let mut lowest: Option<(i32, &Op)> = None;
    for &(_, version, op) in by_invoke.iter().rev() {
        lowest = lowest
            .filter(|&(min, _)| min <= version)
            .or(Some((version, op)));
        suffix_min.extend(lowest);
    }
    suffix_min.reverse();

    for &read in ops {
        let Some(Some(value)) = read.ok_read() else {
            continue;
        };
        let Some(&writer) = writers.get(&value) else {
            found.push(
                key,
                format!("read of value {value} that nobody wrote: {read}"),
            );
            continue;
        };
        if writer.outcome == Outcome::Failed {
            found.push(
                key,
                format!(
                    "read of a value whose write failed: {read} returned the value of {writer}"
                ),
            );
            continue;
        }
        if writer.invoke > read.complete {
            found.push(
                key,
                format!(
                    "read from the future: {read} returned the value of {writer}, which was \
                     invoked only after the read completed"
                ),
            );
            continue;
        }
        let Some(version) = writer.ok_version() else {
            continue;
        };
        let first_later = by_invoke.partition_point(|&(invoke, _, _)| invoke <= read.complete);
        if let Some(&(min, later)) = suffix_min.get(first_later) {
            if min <= version {
                found.push(
                    key,
                    format!(
                        "committed value reordered: {read} returned version {version} (from \
                         {writer}), yet {later}, invoked after that read completed, got version \
                         {min} <= {version}"
                    ),
                );
            }
        }
    }
}

/// Something a session has observed on a key by a certain time: an
/// acknowledged write of its own or an acknowledged read.
struct Seen<'a> {
    at: u64,
    version: Option<i32>,
    op: &'a Op,
}

/// A session's reads never go back: each read returns a value at least as new
/// (in acknowledged version order) as anything the session read or wrote on
/// the key in operations that completed before the read was invoked, and
/// never the initial state after it saw a value. Reads of values from
/// `Unknown` writes have no known version and are not ordered.
fn check_session_order(
    key: &str,
    ops: &[&Op],
    writers: &HashMap<u64, &Op>,
    found: &mut Violations,
) {
    let version_of = |value: u64| writers.get(&value).and_then(|w| w.ok_version());
    let mut seen: Vec<Seen> = Vec::new();
    for &op in ops {
        if op.is_ok_write() {
            seen.push(Seen {
                at: op.complete,
                version: op.ok_version(),
                op,
            });
        } else if let Some(Some(value)) = op.ok_read() {
            // Reads of invented or failed values are reported elsewhere; they
            // would only add noise here.
            if writers
                .get(&value)
                .is_some_and(|w| w.outcome != Outcome::Failed)
            {
                seen.push(Seen {
                    at: op.complete,
                    version: version_of(value),
                    op,
                });
            }
        }
    }
    seen.sort_by_key(|s| (s.at, s.op.id));
    let mut reads: Vec<(&Op, Option<u64>)> = ops
        .iter()
        .filter_map(|&op| op.ok_read().map(|value| (op, value)))
        .collect();
    reads.sort_by_key(|(op, _)| (op.invoke, op.id));

    let mut next = 0;
    let mut newest: Option<(i32, &Op)> = None;
    let mut first_value: Option<&Op> = None;
    for (read, value) in reads {
        while next < seen.len() && seen[next].at < read.invoke {
            let s = &seen[next];
            if let Some(version) = s.version {
                newest = newest
                    .filter(|&(v, _)| v >= version)
                    .or(Some((version, s.op)));
            }
            first_value = first_value.or(Some(s.op));
            next += 1;
        }
        match value {
            None => {
                if let Some(earlier) = first_value {
                    found.push(
                        key,
                        format!(
                            "read of the initial state after the session had seen a value \
                             (keys are never deleted): {read} came after {earlier}"
                        ),
                    );
                }
            }
            Some(value) => {
                let (Some(version), Some((newest_version, earlier))) = (version_of(value), newest)
                else {
                    continue;
                };
                if version >= newest_version {
                    continue;
                }
                let writer = writers
                    .get(&value)
                    .map_or_else(String::new, |w| format!(" (written by {w})"));
                if earlier.is_ok_write() {
                    found.push(
                        key,
                        format!(
                            "read-your-writes violated: {read} returned version {version}{writer} \
                             after the session's own {earlier}"
                        ),
                    );
                } else {
                    found.push(
                        key,
                        format!(
                            "stale read (monotonic reads violated): {read} returned version \
                             {version}{writer} after the session's {earlier} had returned \
                             version {newest_version}"
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Hand-built histories: times are plain numbers, ids are assigned in
    /// order.
    #[derive(Default, Clone)]
    struct Build {
        ops: Vec<Op>,
    }

    impl Build {
        fn push(
            &mut self,
            client: u32,
            key: &str,
            kind: Kind,
            span: (u64, u64),
            outcome: Outcome,
        ) -> &mut Self {
            let id = OpId(self.ops.len());
            self.ops.push(Op {
                id,
                client,
                key: key.to_string(),
                kind,
                invoke: span.0,
                complete: span.1,
                outcome,
            });
            self
        }

        fn write(
            &mut self,
            c: u32,
            key: &str,
            value: u64,
            version: i32,
            span: (u64, u64),
        ) -> &mut Self {
            let kind = Kind::Write {
                value,
                version: Some(version),
            };
            self.push(c, key, kind, span, Outcome::Ok)
        }

        fn write_unknown(&mut self, c: u32, key: &str, value: u64, invoke: u64) -> &mut Self {
            let kind = Kind::Write {
                value,
                version: None,
            };
            self.push(c, key, kind, (invoke, PENDING), Outcome::Unknown)
        }

        fn write_failed(&mut self, c: u32, key: &str, value: u64, span: (u64, u64)) -> &mut Self {
            let kind = Kind::Write {
                value,
                version: None,
            };
            self.push(c, key, kind, span, Outcome::Failed)
        }

        fn read(&mut self, c: u32, key: &str, value: Option<u64>, span: (u64, u64)) -> &mut Self {
            self.push(c, key, Kind::Read { value }, span, Outcome::Ok)
        }

        fn ops(&self) -> Vec<Op> {
            self.ops.clone()
        }
    }

    fn finals(pairs: &[(&str, Option<u64>)]) -> HashMap<String, Option<u64>> {
        pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
    }

    fn assert_ok(result: Result<(), String>) {
        if let Err(e) = result {
            panic!("expected the history to pass, got:\n{e}");
        }
    }

    fn assert_violation(result: Result<(), String>, needle: &str) -> String {
        match result {
            Ok(()) => panic!("expected a violation mentioning {needle:?}, but the history passed"),
            Err(e) => {
                assert!(e.contains(needle), "expected {needle:?} in:\n{e}");
                e
            }
        }
    }

    /// Client 1 writes 1 then 2 (versions 1, 2) sequentially on "/a".
    fn two_writes() -> Build {
        let mut b = Build::default();
        b.write(1, "/a", 1, 1, (0, 10))
            .write(1, "/a", 2, 2, (20, 30));
        b
    }

    // ---- valid histories ----

    #[test]
    fn empty_history_passes() {
        assert_ok(check_all(&[], &HashMap::new()));
        assert_ok(check_all(&[], &finals(&[("/a", None)])));
    }

    #[test]
    fn sequential_single_client_passes() {
        let mut b = Build::default();
        b.read(1, "/a", None, (0, 5))
            .write(1, "/a", 1, 1, (10, 20))
            .read(1, "/a", Some(1), (30, 40))
            .write(1, "/a", 2, 2, (50, 60))
            .read(1, "/a", Some(2), (70, 80));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(2))])));
    }

    #[test]
    fn overlapping_writes_may_take_either_order() {
        // B is invoked before A but ends up with the higher version: fine,
        // they overlap. Readers see them in version order.
        let mut b = Build::default();
        b.write(1, "/a", 10, 2, (0, 100))
            .write(2, "/a", 20, 1, (5, 50))
            .read(3, "/a", Some(20), (10, 60))
            .read(3, "/a", Some(10), (70, 80));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(10))])));
    }

    #[test]
    fn other_sessions_may_read_stale_values() {
        // Client 2's follower lags: it reads the initial state and then the
        // first value after the second write was acknowledged to client 1.
        let mut b = two_writes();
        b.read(2, "/a", None, (40, 50))
            .read(2, "/a", Some(1), (60, 70))
            .read(2, "/a", Some(2), (80, 90));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(2))])));
    }

    #[test]
    fn keys_are_independent() {
        let mut b = Build::default();
        b.write(1, "/a", 1, 5, (0, 10))
            .write(1, "/b", 1, 1, (20, 30))
            .read(1, "/b", Some(1), (40, 50))
            .read(1, "/a", Some(1), (60, 70));
        assert_ok(check_all(
            &b.ops(),
            &finals(&[("/a", Some(1)), ("/b", Some(1))]),
        ));
    }

    #[test]
    fn unknown_write_may_be_dropped_or_land_late() {
        let mut b = two_writes();
        b.write_unknown(2, "/a", 7, 5);
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(2))])));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(7))])));
        // Reads may show it, in any position relative to the known versions.
        b.read(3, "/a", Some(7), (40, 50))
            .read(3, "/a", Some(1), (60, 70))
            .read(3, "/a", Some(7), (80, 90));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(7))])));
    }

    #[test]
    fn unknown_write_seen_during_a_later_write_may_be_final() {
        let mut b = Build::default();
        b.write_unknown(1, "/a", 9, 0)
            .read(2, "/a", Some(9), (5, 30))
            .write(3, "/a", 1, 1, (20, 40));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(9))])));
    }

    #[test]
    fn failed_and_unknown_reads_are_ignored() {
        let mut b = two_writes();
        b.push(
            2,
            "/a",
            Kind::Read { value: Some(999) },
            (40, 50),
            Outcome::Failed,
        )
        .push(
            2,
            "/a",
            Kind::Read { value: None },
            (60, PENDING),
            Outcome::Unknown,
        )
        .write_failed(2, "/a", 3, (70, 80));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(2))])));
    }

    #[test]
    fn overlapping_own_write_does_not_bound_a_read() {
        // A pipelined session: the read was sent before its write's reply.
        let mut b = Build::default();
        b.write(1, "/a", 1, 1, (0, 10))
            .write(1, "/a", 2, 2, (20, 50))
            .read(1, "/a", Some(1), (30, 40));
        assert_ok(check_all(&b.ops(), &finals(&[("/a", Some(2))])));
    }

    // ---- violations ----

    #[test]
    fn stale_read_after_newer_read_in_same_session_fails() {
        // Client 2 catches up from version 1 to 2, then goes back to 1.
        let mut b = two_writes();
        b.read(2, "/a", Some(1), (32, 35))
            .read(2, "/a", Some(2), (40, 50));
        assert_ok(check_reads_sequential(&b.ops()));
        b.read(2, "/a", Some(1), (60, 70));
        let e = assert_violation(check_reads_sequential(&b.ops()), "stale read");
        assert!(e.contains("op#3 ") && e.contains("op#4 "), "{e}");
        assert_ok(check_writes_linearizable(
            &b.ops(),
            &finals(&[("/a", Some(2))]),
        ));
    }

    #[test]
    fn read_your_writes_violation_fails() {
        let mut b = Build::default();
        b.write(1, "/a", 1, 1, (0, 10))
            .write(2, "/a", 2, 2, (20, 30));
        assert_ok(check_reads_sequential(&b.ops()));
        b.read(2, "/a", Some(1), (40, 50));
        let e = assert_violation(check_reads_sequential(&b.ops()), "read-your-writes");
        assert!(e.contains("op#1") && e.contains("op#2"), "{e}");
    }

    #[test]
    fn initial_state_after_seeing_a_value_fails() {
        let mut b = Build::default();
        b.write(2, "/a", 1, 1, (0, 10))
            .read(1, "/a", Some(1), (20, 30));
        assert_ok(check_reads_sequential(&b.ops()));
        b.read(1, "/a", None, (40, 50));
        assert_violation(check_reads_sequential(&b.ops()), "initial state");
        // Also after a value from an unknown write.
        let mut b = Build::default();
        b.write_unknown(2, "/a", 9, 0)
            .read(1, "/a", Some(9), (20, 30));
        assert_ok(check_reads_sequential(&b.ops()));
        b.read(1, "/a", None, (40, 50));
        assert_violation(check_reads_sequential(&b.ops()), "initial state");
    }

    #[test]
    fn lost_acknowledged_write_fails() {
        let ops = two_writes().ops();
        assert_ok(check_writes_linearizable(&ops, &finals(&[("/a", Some(2))])));
        let e = assert_violation(
            check_writes_linearizable(&ops, &finals(&[("/a", Some(1))])),
            "lost acknowledged write",
        );
        assert!(e.contains("op#1"), "{e}");
        assert_violation(
            check_writes_linearizable(&ops, &finals(&[("/a", None)])),
            "lost acknowledged write",
        );
    }

    #[test]
    fn real_time_order_violation_between_acked_writes_fails() {
        let history = |second_version| {
            let mut b = Build::default();
            b.write(1, "/a", 1, 2, (0, 10))
                .write(2, "/a", 2, second_version, (20, 30));
            b.ops()
        };
        assert_ok(check_writes_linearizable(
            &history(3),
            &finals(&[("/a", Some(2))]),
        ));
        let e = assert_violation(
            check_writes_linearizable(&history(1), &finals(&[("/a", Some(1))])),
            "real-time order violated",
        );
        assert!(e.contains("op#0 ") && e.contains("op#1 "), "{e}");
    }

    #[test]
    fn real_time_violation_found_among_many_writes() {
        // Sequential writes with increasing versions, except one pair far apart
        // swapped.
        let mut b = Build::default();
        for i in 0..20u64 {
            let version = match i {
                5 => 15,
                15 => 5,
                _ => i as i32,
            };
            b.write(1, "/a", i, version, (i * 10, i * 10 + 5));
        }
        let e = assert_violation(
            check_writes_linearizable(&b.ops(), &finals(&[("/a", Some(19))])),
            "real-time order violated",
        );
        assert!(e.contains("op#5 ") && e.contains("op#15 "), "{e}");
        assert!(e.contains("10 violation(s)"), "{e}");
    }

    #[test]
    fn read_of_value_nobody_wrote_fails() {
        let mut b = two_writes();
        b.read(2, "/a", Some(2), (40, 50));
        assert_ok(check_reads_sequential(&b.ops()));
        b.read(2, "/a", Some(99), (60, 70));
        assert_violation(
            check_reads_sequential(&b.ops()),
            "value 99 that nobody wrote",
        );
    }

    #[test]
    fn read_from_the_future_fails() {
        let mut b = Build::default();
        b.write(1, "/a", 5, 1, (100, 110))
            .read(2, "/a", Some(5), (60, 120));
        assert_ok(check_reads_sequential(&b.ops()));
        b.read(3, "/a", Some(5), (40, 50));
        assert_violation(check_reads_sequential(&b.ops()), "read from the future");
    }

    #[test]
    fn failed_write_taking_effect_fails() {
        let mut b = two_writes();
        b.write_failed(2, "/a", 3, (40, 50));
        let fin = finals(&[("/a", Some(2))]);
        assert_ok(check_all(&b.ops(), &fin));
        assert_violation(
            check_writes_linearizable(&b.ops(), &finals(&[("/a", Some(3))])),
            "write that failed",
        );
        b.read(3, "/a", Some(3), (60, 70));
        assert_violation(check_reads_sequential(&b.ops()), "whose write failed");
    }

    #[test]
    fn duplicate_versions_fail() {
        let history = |second_version| {
            let mut b = Build::default();
            b.write(1, "/a", 1, 1, (0, 100))
                .write(2, "/a", 2, second_version, (10, 90));
            b.ops()
        };
        assert_ok(check_writes_linearizable(
            &history(2),
            &finals(&[("/a", Some(2))]),
        ));
        let e = assert_violation(
            check_writes_linearizable(&history(1), &finals(&[("/a", Some(2))])),
            "duplicate version 1",
        );
        assert!(e.contains("op#0 ") && e.contains("op#1 "), "{e}");
    }

    #[test]
    fn overwritten_unknown_write_cannot_be_final() {
        let mut b = Build::default();
        b.write_unknown(1, "/a", 9, 0)
            .read(2, "/a", Some(9), (5, 10))
            .write(3, "/a", 1, 1, (20, 30));
        assert_ok(check_writes_linearizable(
            &b.ops(),
            &finals(&[("/a", Some(1))]),
        ));
        assert_violation(
            check_writes_linearizable(&b.ops(), &finals(&[("/a", Some(9))])),
            "cannot be final",
        );
    }

    #[test]
    fn write_sent_after_a_read_must_order_after_the_value_read() {
        // Writes 1 and 2 overlap, so write order alone allows either version
        // order; but the read saw version 2 before write 2 was sent.
        let history = |second_version| {
            let mut b = Build::default();
            b.write(1, "/a", 1, 2, (0, 100))
                .read(2, "/a", Some(1), (10, 20))
                .write(3, "/a", 2, second_version, (30, 40));
            b.ops()
        };
        assert_ok(check_all(&history(3), &finals(&[("/a", Some(2))])));
        assert_ok(check_writes_linearizable(
            &history(1),
            &finals(&[("/a", Some(1))]),
        ));
        assert_violation(
            check_reads_sequential(&history(1)),
            "committed value reordered",
        );

        // Only the second of two later writes is misplaced: it must be found
        // even though the first later write has a higher version.
        let history = |third_version| {
            let mut b = Build::default();
            b.write(1, "/a", 1, 5, (0, 200))
                .read(2, "/a", Some(1), (10, 20))
                .write(3, "/a", 2, 7, (30, 60))
                .write(4, "/a", 3, third_version, (40, 50));
            b.ops()
        };
        assert_ok(check_all(&history(6), &finals(&[("/a", Some(2))])));
        assert_ok(check_writes_linearizable(
            &history(3),
            &finals(&[("/a", Some(2))]),
        ));
        let e = assert_violation(
            check_reads_sequential(&history(3)),
            "committed value reordered",
        );
        assert!(e.contains("op#3 ") && e.contains("got version 3"), "{e}");
    }

    #[test]
    fn ops_display_their_outcome_result_and_times() {
        let mut b = Build::default();
        b.write(1, "/a", 5, 3, (10, 2_000_000))
            .read(2, "/a", None, (1_500_000, 2_500_000))
            .read(2, "/a", Some(5), (3_000_000, 3_000_001))
            .push(
                3,
                "/a",
                Kind::Write {
                    value: 6,
                    version: None,
                },
                (7, 9),
                Outcome::Unknown,
            )
            .write_unknown(4, "/a", 8, 11)
            .write_failed(5, "/a", 9, (12, 13));
        let shown: Vec<String> = b.ops().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                r#"op#0 client 1 write "/a" := 5 -> Ok, version 3 [0.000010ms .. 2.000000ms]"#,
                r#"op#1 client 2 read "/a" -> Ok, none [1.500000ms .. 2.500000ms]"#,
                r#"op#2 client 2 read "/a" -> Ok, 5 [3.000000ms .. 3.000001ms]"#,
                r#"op#3 client 3 write "/a" := 6 -> Unknown [0.000007ms .. inf (gave up at 0.000009ms)]"#,
                r#"op#4 client 4 write "/a" := 8 -> Unknown [0.000011ms .. inf (never completed)]"#,
                r#"op#5 client 5 write "/a" := 9 -> Failed [0.000012ms .. 0.000013ms]"#,
            ]
        );
    }

    #[test]
    fn acked_write_without_version_fails() {
        let mut b = two_writes();
        b.push(
            2,
            "/a",
            Kind::Write {
                value: 3,
                version: None,
            },
            (40, 50),
            Outcome::Ok,
        );
        assert_violation(
            check_writes_linearizable(&b.ops(), &finals(&[("/a", Some(3))])),
            "has no version",
        );
    }

    #[test]
    fn final_values_must_cover_written_keys_and_only_them() {
        let ops = two_writes().ops();
        assert_violation(
            check_writes_linearizable(&ops, &finals(&[("/b", None)])),
            "no final value recorded",
        );
        assert_ok(check_writes_linearizable(
            &ops,
            &finals(&[("/a", Some(2)), ("/b", None)]),
        ));
        assert_violation(
            check_writes_linearizable(&ops, &finals(&[("/a", Some(2)), ("/b", Some(4))])),
            "no operation in the history touched",
        );
        assert_violation(
            check_writes_linearizable(&ops, &finals(&[("/a", Some(42))])),
            "written by no operation",
        );
    }

    #[test]
    fn repeated_written_value_is_reported() {
        let mut b = two_writes();
        b.write_unknown(2, "/a", 1, 40);
        assert_violation(check_reads_sequential(&b.ops()), "written twice");
        assert_violation(
            check_writes_linearizable(&b.ops(), &finals(&[("/a", Some(2))])),
            "written twice",
        );
    }

    #[test]
    fn check_all_reports_both_checks_and_caps_the_list() {
        let mut b = two_writes();
        for i in 0..40 {
            b.read(2, "/a", Some(1000 + i), (40 + i, 41 + i));
        }
        let e = assert_violation(
            check_all(&b.ops(), &finals(&[("/a", Some(1))])),
            "write order",
        );
        assert!(
            e.contains("read consistency check failed: 40 violation(s)"),
            "{e}"
        );
        assert!(e.contains("... and 10 more"), "{e}");
    }

    // ---- the recorder ----

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn recorder_records_times_outcomes_and_results() {
        assert_send_sync::<History>();
        let h = History::new();
        let w = h.invoke_write(1, "/a", 5);
        h.complete_write(w, Outcome::Ok, Some(1));
        let r = h.invoke_read(2, "/a");
        h.complete_read(r, Outcome::Ok, Some(5));
        let lost = h.invoke_write(3, "/a", 6);
        h.complete_unknown(lost);
        let rejected = h.invoke(3, "/a", Kind::Read { value: None });
        h.complete_failed(rejected);
        let pending = h.invoke_write(4, "/a", 7);

        let ops = h.ops();
        assert_eq!(ops.len(), 5);
        assert_eq!(
            ops[0].kind,
            Kind::Write {
                value: 5,
                version: Some(1)
            }
        );
        assert_eq!(ops[1].kind, Kind::Read { value: Some(5) });
        assert_eq!(ops[1].outcome, Outcome::Ok);
        assert_eq!(ops[2].outcome, Outcome::Unknown);
        assert_eq!(ops[3].outcome, Outcome::Failed);
        assert_eq!(ops[pending.0].outcome, Outcome::Unknown);
        assert_eq!(ops[pending.0].complete, PENDING);
        for (i, op) in ops.iter().enumerate() {
            assert_eq!(op.id, OpId(i));
            assert!(op.invoke <= op.complete, "{op}");
        }
        assert!(ops[0].complete <= ops[1].invoke);
        assert_ok(check_all(&ops, &finals(&[("/a", Some(7))])));
        assert_ok(check_all(&ops, &finals(&[("/a", Some(5))])));
        assert_violation(
            check_all(&ops, &finals(&[("/a", None)])),
            "lost acknowledged write",
        );
        let s = summary(&ops);
        assert!(s.contains("5 ops on 1 keys by 4 clients"), "{s}");
        assert!(
            s.contains("writes ok/failed/unknown 1/0/2, reads ok/failed/unknown 1/1/0"),
            "{s}"
        );
    }

    /// Several threads drive a register that really is linearizable (one
    /// mutex); the recorded history must pass, and corrupting it must not.
    #[test]
    fn concurrent_recording_of_a_linearizable_register_passes() {
        let h = Arc::new(History::new());
        let register = Arc::new(Mutex::new((None::<u64>, 0i32)));
        let threads: Vec<_> = (0..4u32)
            .map(|client| {
                let h = Arc::clone(&h);
                let register = Arc::clone(&register);
                std::thread::spawn(move || {
                    for i in 0..200u64 {
                        if i % 3 == 0 {
                            let id = h.invoke_write(client, "/r", u64::from(client) * 1000 + i);
                            let version = {
                                let mut reg = register.lock().unwrap_or_else(|e| e.into_inner());
                                reg.0 = Some(u64::from(client) * 1000 + i);
                                reg.1 += 1;
                                reg.1
                            };
                            h.complete_write(id, Outcome::Ok, Some(version));
                        } else {
                            let id = h.invoke_read(client, "/r");
                            let value = register.lock().unwrap_or_else(|e| e.into_inner()).0;
                            h.complete_read(id, Outcome::Ok, value);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let final_value = register.lock().unwrap().0;
        let fin = finals(&[("/r", final_value)]);
        let ops = h.ops();
        assert_eq!(ops.len(), 800);
        assert_ok(check_all(&ops, &fin));

        // Swap the versions of the first and last acknowledged writes.
        let mut corrupt = ops.clone();
        let writes: Vec<usize> = (0..corrupt.len())
            .filter(|&i| corrupt[i].is_ok_write())
            .collect();
        let (first, last) = (writes[0], writes[writes.len() - 1]);
        let (vf, vl) = (corrupt[first].ok_version(), corrupt[last].ok_version());
        if let Kind::Write { version, .. } = &mut corrupt[first].kind {
            *version = vl;
        }
        if let Kind::Write { version, .. } = &mut corrupt[last].kind {
            *version = vf;
        }
        assert!(check_all(&corrupt, &fin).is_err());
    }

    #[test]
    #[should_panic(expected = "completed twice")]
    fn completing_twice_panics() {
        let h = History::new();
        let id = h.invoke_read(1, "/a");
        h.complete_read(id, Outcome::Ok, None);
        h.complete_unknown(id);
    }

    #[test]
    #[should_panic(expected = "complete_read on a write")]
    fn completing_with_the_wrong_kind_panics() {
        let h = History::new();
        let id = h.invoke_write(1, "/a", 1);
        h.complete_read(id, Outcome::Ok, Some(1));
    }

    #[test]
    #[should_panic(expected = "never invoked")]
    fn completing_an_unknown_id_panics() {
        History::new().complete_failed(OpId(3));
    }
}
