//! Zab-style atomic broadcast as a pure state machine.
//!
//! One [`Zab`] per server. Inputs: peer messages ([`Zab::on_message`]), a
//! broken peer link ([`Zab::link_down`]), the local log's fsync progress
//! ([`Zab::durable`]), new writes on the leader ([`Zab::propose`]) and time
//! ([`Zab::tick`]). Outputs are [`Action`]s the host performs in order
//! ([`Zab::take_actions`]). Entries are opaque bytes with a zxid; what they
//! mean is the host's business (the server's txns, or the simulator's
//! client writes).
//!
//! Phases, as in Zab: election by (epoch, last zxid, server id); discovery
//! (followers report their accepted epoch, the leader takes one strictly
//! above a quorum's); synchronisation (DIFF when the follower's log is a
//! prefix of the leader's history, TRUNC then DIFF when it holds txns the
//! leader never had, SNAP when the leader's in-memory history does not
//! reach back far enough or the follower's state machine already applied
//! txns that must be undone); broadcast (PROPOSAL, cumulative ACK of what is
//! durable, COMMIT once a quorum of voters has it durable).
//!
//! Host contract:
//! - `SaveEpochs`, `Truncate` and `InstallSnapshot` are durable before the
//!   host performs the next action.
//! - `Append` may complete later; the host reports with [`Zab::durable`]
//!   the highest zxid whose entry and every earlier one is fsync'd.
//! - `SendSnapshot { to }`: send `Msg::Snap` with the state machine's image
//!   and applied zxid to `to`, before any later `Send` to it.
//! - `Deliver` applies an entry to the state machine. A leader applies its
//!   own proposals itself when it proposes them (they are never delivered
//!   to it again), so its state runs ahead of `Committed`; outputs that
//!   reflect an entry wait until `Committed` covers it.
//! - `Role`: serving clients is allowed only in `Leading`/`Following`/
//!   `Observing`; on `Looking` the host drops its clients (as ZooKeeper
//!   does) — their sessions live on in the ensemble.
//!
//! Peer links are FIFO (one TCP connection per pair). A link that breaks
//! loses what was in flight; the host then calls [`Zab::link_down`]. Votes
//! may be lost, duplicated or reordered freely.

mod election;
mod replica;
pub mod wire;

pub use replica::Zab;

use super::Zxid;
use std::sync::Arc;

/// A server's id (`server.N` / `myid`).
pub type Sid = u64;
/// A Zab epoch: the top 32 bits of every zxid proposed in it.
pub type Epoch = u32;

/// The epoch a zxid was proposed in.
pub fn epoch_of(zxid: Zxid) -> Epoch {
    ((zxid as u64) >> 32) as Epoch
}

/// The position of a zxid within its epoch.
pub fn counter_of(zxid: Zxid) -> u32 {
    zxid as u64 as u32
}

/// The zxid of the `counter`th proposal of `epoch`.
pub fn make_zxid(epoch: Epoch, counter: u32) -> Zxid {
    (((epoch as u64) << 32) | counter as u64) as Zxid
}

/// One replicated log entry: opaque bytes at a zxid. Shared, because the
/// leader sends the same bytes to every follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub zxid: Zxid,
    pub data: Arc<Vec<u8>>,
}

/// What a server says about itself in election messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    Looking,
    Following,
    Leading,
    Observing,
}

/// A candidate leader, ordered the way elections compare them: newer
/// epoch, then longer log, then higher id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Vote {
    pub epoch: Epoch,
    pub zxid: Zxid,
    pub leader: Sid,
}

/// Peer messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Election traffic; `round` is the sender's election round.
    Vote {
        round: u64,
        vote: Vote,
        state: PeerState,
    },
    /// Follower → leader: opens a session with the leader.
    FollowerInfo {
        accepted_epoch: Epoch,
        observer: bool,
    },
    /// Leader → follower: the epoch it will lead.
    LeaderInfo {
        epoch: Epoch,
    },
    /// Follower → leader: epoch accepted; where its log and state stand.
    /// `counts` is false when the follower had already accepted this epoch
    /// from another leader: it may join, but not help establish the epoch.
    AckEpoch {
        counts: bool,
        current_epoch: Epoch,
        last_zxid: Zxid,
        applied: Zxid,
    },
    /// Leader → follower: drop log entries above `zxid`.
    Trunc {
        zxid: Zxid,
    },
    /// Leader → follower: entries to append.
    Diff {
        entries: Vec<Entry>,
    },
    /// Leader → follower: replace state and log with this image.
    Snap {
        zxid: Zxid,
        image: Arc<Vec<u8>>,
    },
    /// Leader → follower: synchronised up to `zxid`; ack once durable.
    NewLeader {
        epoch: Epoch,
        zxid: Zxid,
    },
    AckNewLeader {
        zxid: Zxid,
    },
    /// Leader → follower: start serving; everything up to `commit` is
    /// committed.
    UpToDate {
        commit: Zxid,
    },
    Proposal(Entry),
    /// Follower → leader: everything up to `zxid` is durable here.
    Ack {
        zxid: Zxid,
    },
    Commit {
        zxid: Zxid,
    },
    Ping,
    Pong,
    /// Server-level traffic between a learner and its leader (forwarded
    /// requests, session touches, sync barriers: `core::forward`). It
    /// shares the FIFO link with proposals so a barrier's answer follows
    /// the proposals it covers; the replica itself ignores it.
    Server(Vec<u8>),
}

/// Something the host must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        to: Sid,
        msg: Msg,
    },
    /// Append to the local log (report fsync with [`Zab::durable`]).
    Append(Entry),
    /// Remove every log entry above `zxid`, durably.
    Truncate {
        zxid: Zxid,
    },
    /// Replace state machine and log with a leader's image at `zxid`.
    InstallSnapshot {
        zxid: Zxid,
        image: Arc<Vec<u8>>,
    },
    /// Send `Msg::Snap` with the state machine's image to `to` now.
    SendSnapshot {
        to: Sid,
    },
    /// Persist the epochs (and who the accepted one came from), durably.
    SaveEpochs {
        accepted: Epoch,
        accepted_from: Sid,
        current: Epoch,
    },
    /// Apply this entry to the state machine.
    Deliver(Entry),
    /// Every entry up to `zxid` is committed.
    Committed(Zxid),
    /// The server's role changed.
    Role(Role),
}

/// Where a server stands, as the host needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Looking,
    /// Established leader of `epoch`: may propose and serve clients.
    Leading {
        epoch: Epoch,
    },
    /// Synchronised with `leader`: may serve clients.
    Following {
        leader: Sid,
    },
    Observing {
        leader: Sid,
    },
}

/// A bug planted on purpose so tests can show the simulator catches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlantedBug {
    #[default]
    None,
    /// The leader commits on its own fsync, without waiting for a quorum.
    CommitBeforeQuorum,
    /// The leader never sends TRUNC: followers keep txns it never had.
    SkipTrunc,
}

/// Ensemble membership and timing.
#[derive(Debug, Clone)]
pub struct Config {
    pub me: Sid,
    /// Voting members (including `me` unless it is an observer).
    pub voters: Vec<Sid>,
    /// Non-voting members that receive every commit.
    pub observers: Vec<Sid>,
    /// Heartbeat period.
    pub tick_ms: i64,
    /// How long discovery plus synchronisation may take (ZooKeeper's
    /// initLimit × tickTime).
    pub init_limit_ms: i64,
    /// How long a peer may stay silent (syncLimit × tickTime).
    pub sync_limit_ms: i64,
    /// How often a looking server repeats its vote.
    pub election_resend_ms: i64,
    /// How long a quorum must agree on a vote before it is final.
    pub finalize_ms: i64,
    /// How many recent entries a server keeps in memory to sync followers
    /// by DIFF; older gaps are bridged by SNAP.
    pub history_cap: usize,
    /// The leader steps down when an epoch's counter reaches this (zxids
    /// must not roll over into the epoch bits).
    pub max_counter: u32,
    pub planted: PlantedBug,
}

impl Config {
    /// ZooKeeper-like timing from a tick: initLimit 10, syncLimit 5.
    pub fn new(me: Sid, voters: Vec<Sid>, observers: Vec<Sid>, tick_ms: i64) -> Config {
        Config {
            me,
            voters,
            observers,
            tick_ms,
            init_limit_ms: 10 * tick_ms,
            sync_limit_ms: 5 * tick_ms,
            election_resend_ms: tick_ms.max(2) / 2,
            finalize_ms: tick_ms.max(5) / 5,
            history_cap: 100_000,
            max_counter: u32::MAX - 1,
            planted: PlantedBug::None,
        }
    }

    fn quorum(&self) -> usize {
        self.voters.len() / 2 + 1
    }

    fn is_voter(&self, sid: Sid) -> bool {
        self.voters.contains(&sid)
    }

    fn peers(&self) -> impl Iterator<Item = Sid> + '_ {
        let me = self.me;
        self.voters
            .iter()
            .chain(self.observers.iter())
            .copied()
            .filter(move |&s| s != me)
    }
}

/// What a server recovered from its disk.
#[derive(Debug, Clone, Default)]
pub struct Recovered {
    pub accepted_epoch: Epoch,
    pub accepted_from: Sid,
    pub current_epoch: Epoch,
    /// The zxid the log continues from (a snapshot's, or 0).
    pub base: Zxid,
    /// Log entries after `base`, in order (all of them, or the newest ones:
    /// older entries only serve DIFFs).
    pub entries: Vec<Entry>,
    /// What the state machine has applied (recovery replays the whole log,
    /// so usually the last entry's zxid).
    pub applied: Zxid,
}

#[cfg(test)]
mod tests;
