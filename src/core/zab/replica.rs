//! One server's Zab state machine: election, then leading or following.

use super::election::{Election, Outcome};
use super::{
    counter_of, epoch_of, make_zxid, Action, Config, Entry, Epoch, Msg, PeerState, PlantedBug,
    Recovered, Role, Sid, Vote,
};
use crate::core::Zxid;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tracing::{debug, info, warn};

/// Where a follower is in its session with the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FollowPhase {
    /// Sent FollowerInfo, waiting for LeaderInfo.
    Discovery,
    /// Acked the epoch, receiving TRUNC/DIFF/SNAP until NEWLEADER.
    Sync,
    /// Got NEWLEADER for `zxid`; acks it once durable.
    AwaitDurable { epoch: Epoch, zxid: Zxid },
    /// Acked NEWLEADER: acks proposals, applies commits.
    Broadcast,
}

#[derive(Debug)]
struct Follow {
    leader: Sid,
    observer: bool,
    phase: FollowPhase,
    serving: bool,
    started: i64,
    last_heard: i64,
    last_sent: i64,
    last_ack_sent: Zxid,
}

/// Where a learner is in its session with us, the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LearnerPhase {
    /// Sent FollowerInfo; waits for our epoch (or for its AckEpoch).
    Discovery,
    /// Sync sent, NEWLEADER for `zxid` not yet acked.
    Syncing { zxid: Zxid },
    /// Acked NEWLEADER: counts for quorums (voters only).
    Synced,
}

#[derive(Debug)]
struct Learner {
    observer: bool,
    /// Accepted our epoch from us first: may count to establish it.
    counts: bool,
    accepted_epoch: super::Epoch,
    phase: LearnerPhase,
    acked: Zxid,
    last_heard: i64,
}

#[derive(Debug)]
struct Lead {
    /// Chosen once a quorum of voters reported their accepted epoch.
    epoch: Option<Epoch>,
    learners: BTreeMap<Sid, Learner>,
    established: bool,
    started: i64,
    /// Our last zxid when the epoch began: what every learner syncs to and
    /// what is committed once a quorum acks NEWLEADER.
    base_zxid: Zxid,
    counter: u32,
    last_ping: i64,
}

impl Lead {
    /// Learners past discovery: they get every proposal and commit.
    fn forwarding(&self) -> Vec<Sid> {
        self.learners
            .iter()
            .filter(|(_, x)| x.phase != LearnerPhase::Discovery)
            .map(|(s, _)| *s)
            .collect()
    }
}

#[derive(Debug)]
enum State {
    Looking,
    Following(Follow),
    Leading(Lead),
}

/// One server's replication state machine (see the module docs).
pub struct Zab {
    cfg: Config,
    accepted_epoch: Epoch,
    accepted_from: Sid,
    current_epoch: Epoch,
    /// The zxid `history` continues from.
    base: Zxid,
    /// Recent log entries (every entry above `applied` is always here).
    history: VecDeque<Entry>,
    logged: Zxid,
    durable: Zxid,
    applied: Zxid,
    committed: Zxid,
    state: State,
    election: Election,
    out: Vec<Action>,
}

impl Zab {
    /// A server starting from what it recovered; it begins by looking for
    /// a leader.
    pub fn new(cfg: Config, rec: Recovered, now: i64) -> Zab {
        let logged = rec.entries.last().map_or(rec.base, |e| e.zxid);
        let mut z = Zab {
            accepted_epoch: rec.accepted_epoch,
            accepted_from: rec.accepted_from,
            current_epoch: rec.current_epoch,
            base: rec.base,
            history: rec.entries.into(),
            logged,
            durable: logged,
            applied: rec.applied.min(logged),
            committed: 0,
            state: State::Looking,
            election: Election::default(),
            out: Vec::new(),
            cfg,
        };
        z.look(now);
        z
    }

    /// Actions produced since the last call, in the order to perform them.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    /// The role the host should act on.
    pub fn role(&self) -> Role {
        match &self.state {
            State::Leading(l) if l.established => Role::Leading {
                epoch: l.epoch.unwrap_or(0),
            },
            State::Following(f) if f.serving && f.observer => Role::Observing { leader: f.leader },
            State::Following(f) if f.serving => Role::Following { leader: f.leader },
            _ => Role::Looking,
        }
    }

    /// The leader this server follows (or itself when leading).
    pub fn leader(&self) -> Option<Sid> {
        match &self.state {
            State::Leading(_) => Some(self.cfg.me),
            State::Following(f) => Some(f.leader),
            State::Looking => None,
        }
    }

    /// Highest zxid known committed.
    pub fn committed(&self) -> Zxid {
        self.committed
    }

    /// Highest zxid in the local log (durable or not).
    pub fn last_logged(&self) -> Zxid {
        self.logged
    }

    /// On an established leader: (voting followers, of those synced,
    /// observers) — what `mntr` reports as zk_followers,
    /// zk_synced_followers and zk_synced_observers.
    pub fn learner_counts(&self) -> Option<(usize, usize, usize)> {
        let State::Leading(l) = &self.state else {
            return None;
        };
        let voters = || {
            l.learners
                .iter()
                .filter(|(s, x)| !x.observer && self.cfg.is_voter(**s))
        };
        let synced = voters()
            .filter(|(_, x)| x.phase == LearnerPhase::Synced)
            .count();
        let observers = l
            .learners
            .iter()
            .filter(|(s, x)| {
                (x.observer || !self.cfg.is_voter(**s)) && x.phase == LearnerPhase::Synced
            })
            .count();
        Some((voters().count(), synced, observers))
    }

    /// Highest zxid applied to the state machine.
    pub fn applied(&self) -> Zxid {
        self.applied
    }

    /// The epoch of the last leader this server synchronised with.
    pub fn current_epoch(&self) -> Epoch {
        self.current_epoch
    }

    /// A one-line summary of the replication state, for logs and failure
    /// reports.
    pub fn describe(&self) -> String {
        let st = match &self.state {
            State::Looking => format!(
                "looking round {} vote {:?}",
                self.election.round, self.election.vote
            ),
            State::Following(f) => format!("following s{} {:?}", f.leader, f.phase),
            State::Leading(l) => format!(
                "leading epoch {:?} established {} learners {:?}",
                l.epoch,
                l.established,
                l.learners
                    .iter()
                    .map(|(s, x)| (*s, x.phase))
                    .collect::<Vec<_>>()
            ),
        };
        format!(
            "s{} {st}; accepted {} from s{}, current {}, logged {:#x}, durable {:#x}, applied {:#x}, committed {:#x}",
            self.cfg.me,
            self.accepted_epoch,
            self.accepted_from,
            self.current_epoch,
            self.logged,
            self.durable,
            self.applied,
            self.committed
        )
    }

    /// This server's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    fn send(&mut self, to: Sid, msg: Msg) {
        self.out.push(Action::Send { to, msg });
    }

    fn own_vote(&self) -> Option<Vote> {
        self.cfg.is_voter(self.cfg.me).then_some(Vote {
            epoch: self.current_epoch,
            zxid: self.logged,
            leader: self.cfg.me,
        })
    }

    fn peer_state(&self) -> PeerState {
        match &self.state {
            State::Looking => PeerState::Looking,
            State::Leading(_) => PeerState::Leading,
            State::Following(f) if f.observer => PeerState::Observing,
            State::Following(_) => PeerState::Following,
        }
    }

    fn save_epochs(&mut self) {
        self.out.push(Action::SaveEpochs {
            accepted: self.accepted_epoch,
            accepted_from: self.accepted_from,
            current: self.current_epoch,
        });
    }

    // ---- election ------------------------------------------------------

    fn look(&mut self, now: i64) {
        let was_serving = self.role() != Role::Looking;
        if !matches!(self.state, State::Looking) {
            info!(me = self.cfg.me, "looking for a leader");
        }
        self.state = State::Looking;
        if was_serving {
            self.out.push(Action::Role(Role::Looking));
        }
        let own = self.own_vote();
        self.election.start(&self.cfg, own, now);
        self.broadcast_vote();
    }

    fn broadcast_vote(&mut self) {
        let Some(vote) = self.election.vote.or(self.own_vote()) else {
            // Observers announce themselves so settled servers answer.
            let v = Vote {
                epoch: 0,
                zxid: 0,
                leader: 0,
            };
            self.vote_to_all(v);
            return;
        };
        self.vote_to_all(vote);
    }

    fn vote_to_all(&mut self, vote: Vote) {
        let round = self.election.round;
        let peers: Vec<Sid> = self.cfg.peers().collect();
        for p in peers {
            self.send(
                p,
                Msg::Vote {
                    round,
                    vote,
                    state: PeerState::Looking,
                },
            );
        }
    }

    fn send_vote(&mut self, to: Sid, vote: Vote, state: PeerState) {
        let round = self.election.round;
        self.send(to, Msg::Vote { round, vote, state });
    }

    fn on_vote(&mut self, from: Sid, round: u64, vote: Vote, state: PeerState, now: i64) {
        if !matches!(self.state, State::Looking) {
            if state == PeerState::Looking {
                // Tell a looking server who leads.
                let v = Vote {
                    epoch: self.current_epoch,
                    zxid: self.logged,
                    leader: self.leader().unwrap_or(self.cfg.me),
                };
                let st = self.peer_state();
                self.send_vote(from, v, st);
            }
            return;
        }
        match state {
            PeerState::Looking if self.cfg.is_voter(from) => {
                if round < self.election.round {
                    if let Some(v) = self.election.vote {
                        self.send_vote(from, v, PeerState::Looking);
                    }
                    return;
                }
                let own = self.own_vote();
                let cfg = self.cfg.clone();
                if self
                    .election
                    .on_looking_vote(&cfg, from, round, vote, own, now)
                {
                    self.broadcast_vote();
                }
            }
            PeerState::Looking => {}
            settled => self.election.on_settled_vote(from, vote.leader, settled),
        }
        self.maybe_decide(now);
    }

    fn maybe_decide(&mut self, now: i64) {
        if !matches!(self.state, State::Looking) {
            return;
        }
        match self.election.outcome(&self.cfg, now) {
            Outcome::Undecided => {}
            Outcome::Decided(l) if l == self.cfg.me => self.lead(now),
            Outcome::Decided(l) => self.follow(l, now),
        }
    }

    // ---- following -----------------------------------------------------

    fn follow(&mut self, leader: Sid, now: i64) {
        let observer = !self.cfg.is_voter(self.cfg.me);
        info!(me = self.cfg.me, leader, "following");
        self.state = State::Following(Follow {
            leader,
            observer,
            phase: FollowPhase::Discovery,
            serving: false,
            started: now,
            last_heard: now,
            last_sent: now,
            last_ack_sent: 0,
        });
        self.send_follower_info(leader, observer);
    }

    /// Opens (or repeats) discovery with `leader`.
    fn send_follower_info(&mut self, leader: Sid, observer: bool) {
        let accepted_epoch = self.accepted_epoch;
        self.send(
            leader,
            Msg::FollowerInfo {
                accepted_epoch,
                observer,
            },
        );
    }

    fn protocol_error(&mut self, what: &str, now: i64) {
        warn!(
            me = self.cfg.me,
            what, "replication protocol error; re-electing"
        );
        self.look(now);
    }

    fn on_leader_msg(&mut self, msg: Msg, now: i64) {
        let State::Following(f) = &mut self.state else {
            return;
        };
        f.last_heard = now;
        let phase = f.phase;
        let leader = f.leader;
        match (phase, msg) {
            (_, Msg::Ping) => self.send(leader, Msg::Pong),
            (FollowPhase::Discovery, Msg::LeaderInfo { epoch }) => {
                // Each server helps at most one leader establish an epoch:
                // a second leader of the same epoch gets a non-counting ack.
                let counts = if epoch > self.accepted_epoch {
                    true
                } else if epoch == self.accepted_epoch {
                    self.accepted_from == leader
                } else {
                    return self.protocol_error("leader's epoch is older than ours", now);
                };
                self.accepted_epoch = epoch;
                self.accepted_from = leader;
                self.save_epochs();
                let (current_epoch, last_zxid, applied) =
                    (self.current_epoch, self.logged, self.applied);
                self.send(
                    leader,
                    Msg::AckEpoch {
                        counts,
                        current_epoch,
                        last_zxid,
                        applied,
                    },
                );
                self.set_phase(FollowPhase::Sync);
            }
            // Leftovers from an earlier session with this leader.
            (FollowPhase::Discovery, _) => {}
            // The answer to a repeated FollowerInfo.
            (FollowPhase::Sync, Msg::LeaderInfo { epoch }) if epoch == self.accepted_epoch => {}
            (FollowPhase::Sync, Msg::Trunc { zxid }) => {
                if zxid < self.applied || zxid > self.logged {
                    return self.protocol_error("TRUNC below applied state", now);
                }
                while self.history.back().is_some_and(|e| e.zxid > zxid) {
                    self.history.pop_back();
                }
                self.logged = zxid;
                self.durable = self.durable.min(zxid);
                self.out.push(Action::Truncate { zxid });
            }
            (FollowPhase::Sync, Msg::Diff { entries }) => {
                for e in entries {
                    if !self.append(e) {
                        return self.protocol_error("DIFF entry not after our log", now);
                    }
                }
            }
            (FollowPhase::Sync, Msg::Snap { zxid, image }) => {
                self.history.clear();
                self.base = zxid;
                self.logged = zxid;
                self.durable = zxid;
                self.applied = zxid;
                self.out.push(Action::InstallSnapshot { zxid, image });
            }
            (FollowPhase::Sync, Msg::NewLeader { epoch, zxid }) => {
                if zxid != self.logged {
                    return self.protocol_error("NEWLEADER does not match our log", now);
                }
                self.set_phase(FollowPhase::AwaitDurable { epoch, zxid });
                self.maybe_ack_new_leader();
            }
            (FollowPhase::AwaitDurable { .. } | FollowPhase::Broadcast, Msg::Proposal(e)) => {
                let gap = epoch_of(e.zxid) == epoch_of(self.logged)
                    && counter_of(e.zxid) != counter_of(self.logged).wrapping_add(1);
                if gap || !self.append(e) {
                    self.protocol_error("proposal out of sequence", now);
                }
            }
            (FollowPhase::AwaitDurable { .. } | FollowPhase::Broadcast, Msg::Commit { zxid }) => {
                self.advance_commit(zxid);
            }
            (FollowPhase::Broadcast, Msg::UpToDate { commit }) => {
                if let State::Following(f) = &mut self.state {
                    f.serving = true;
                }
                info!(me = self.cfg.me, leader, "synchronised with the leader");
                let role = self.role();
                self.out.push(Action::Role(role));
                self.advance_commit(commit);
            }
            (_, m) => {
                debug!(me = self.cfg.me, msg = ?m, "unexpected message from leader");
                self.protocol_error("unexpected message for the sync phase", now);
            }
        }
    }

    fn set_phase(&mut self, phase: FollowPhase) {
        if let State::Following(f) = &mut self.state {
            f.phase = phase;
        }
    }

    /// Appends an entry that must come after our log; false if it does not.
    fn append(&mut self, e: Entry) -> bool {
        if e.zxid <= self.logged {
            return false;
        }
        self.logged = e.zxid;
        self.history.push_back(e.clone());
        self.out.push(Action::Append(e));
        self.trim_history();
        true
    }

    fn trim_history(&mut self) {
        while self.history.len() > self.cfg.history_cap {
            match self.history.front() {
                Some(e) if e.zxid <= self.applied && e.zxid <= self.committed => {
                    self.base = e.zxid;
                    self.history.pop_front();
                }
                _ => break,
            }
        }
    }

    fn maybe_ack_new_leader(&mut self) {
        let State::Following(f) = &mut self.state else {
            return;
        };
        let leader = f.leader;
        if let FollowPhase::AwaitDurable { epoch, zxid } = f.phase {
            if self.durable >= zxid {
                f.phase = FollowPhase::Broadcast;
                f.last_ack_sent = zxid;
                // The epoch becomes ours only with the log that goes with it.
                self.current_epoch = epoch;
                self.save_epochs();
                self.send(leader, Msg::AckNewLeader { zxid });
                // Proposals that arrived meanwhile may be durable already.
                if self.durable > zxid {
                    if let State::Following(f) = &mut self.state {
                        f.last_ack_sent = self.durable;
                    }
                    let d = self.durable;
                    self.send(leader, Msg::Ack { zxid: d });
                }
            }
        }
    }

    /// Hands the state machine every logged entry above `applied` up to
    /// `target`.
    fn deliver_through(&mut self, target: Zxid) {
        let from = self.history.partition_point(|e| e.zxid <= self.applied);
        let due: Vec<Entry> = self
            .history
            .iter()
            .skip(from)
            .take_while(|e| e.zxid <= target)
            .cloned()
            .collect();
        for e in due {
            self.applied = e.zxid;
            self.out.push(Action::Deliver(e));
        }
    }

    fn advance_commit(&mut self, zxid: Zxid) {
        let target = zxid.min(self.logged);
        if target <= self.committed {
            return;
        }
        self.committed = target;
        self.deliver_through(target);
        self.out.push(Action::Committed(target));
        self.trim_history();
    }

    // ---- leading -------------------------------------------------------

    fn lead(&mut self, now: i64) {
        info!(
            me = self.cfg.me,
            zxid = format_args!("{:#x}", self.logged),
            "leading"
        );
        // A leader's state runs ahead of commits: apply the whole log now.
        self.deliver_through(self.logged);
        self.state = State::Leading(Lead {
            epoch: None,
            learners: BTreeMap::new(),
            established: false,
            started: now,
            base_zxid: self.logged,
            counter: 0,
            last_ping: now,
        });
        self.maybe_choose_epoch();
    }

    fn maybe_choose_epoch(&mut self) {
        let State::Leading(l) = &mut self.state else {
            return;
        };
        if l.epoch.is_some() {
            return;
        }
        let voters_in = 1 + l
            .learners
            .iter()
            .filter(|(s, x)| !x.observer && self.cfg.is_voter(**s))
            .count();
        if voters_in < self.cfg.quorum() {
            return;
        }
        let highest = l
            .learners
            .values()
            .map(|x| x.accepted_epoch)
            .chain([self.accepted_epoch, self.current_epoch])
            .max()
            .unwrap_or(0);
        let epoch = highest + 1;
        l.epoch = Some(epoch);
        let learners: Vec<Sid> = l.learners.keys().copied().collect();
        self.accepted_epoch = epoch;
        self.accepted_from = self.cfg.me;
        self.save_epochs();
        info!(me = self.cfg.me, epoch, "proposing a new epoch");
        for s in learners {
            self.send(s, Msg::LeaderInfo { epoch });
        }
        // An ensemble of one needs nobody's ack.
        self.maybe_establish();
    }

    fn on_learner_msg(&mut self, from: Sid, msg: Msg, now: i64) {
        let State::Leading(l) = &mut self.state else {
            return;
        };
        if let Msg::FollowerInfo {
            accepted_epoch,
            observer,
        } = msg
        {
            let observer = observer || !self.cfg.is_voter(from);
            if let Some(x) = l.learners.get_mut(&from) {
                if x.phase == LearnerPhase::Discovery {
                    // A repeat while the follower waits for our epoch.
                    x.last_heard = now;
                    x.accepted_epoch = accepted_epoch;
                    if let Some(epoch) = l.epoch {
                        self.send(from, Msg::LeaderInfo { epoch });
                    }
                    return;
                }
            }
            l.learners.insert(
                from,
                Learner {
                    observer,
                    counts: false,
                    accepted_epoch,
                    phase: LearnerPhase::Discovery,
                    acked: 0,
                    last_heard: now,
                },
            );
            match l.epoch {
                Some(epoch) if accepted_epoch > epoch && !observer => {
                    // It can never join this epoch; a new election will
                    // pick one above everything accepted.
                    info!(
                        me = self.cfg.me,
                        follower = from,
                        "a follower accepted a newer epoch; giving up leadership"
                    );
                    self.look(now);
                }
                Some(epoch) => self.send(from, Msg::LeaderInfo { epoch }),
                None => self.maybe_choose_epoch(),
            }
            return;
        }
        let Some(x) = l.learners.get_mut(&from) else {
            return;
        };
        x.last_heard = now;
        match (x.phase, msg) {
            (
                LearnerPhase::Discovery,
                Msg::AckEpoch {
                    counts,
                    current_epoch,
                    last_zxid,
                    applied,
                },
            ) => {
                x.counts = counts;
                let ahead = !x.observer
                    && (current_epoch, last_zxid) > (self.current_epoch, self.logged)
                    && !l.established;
                if ahead {
                    warn!(
                        me = self.cfg.me,
                        follower = from,
                        "a follower is ahead of us; giving up leadership"
                    );
                    return self.look(now);
                }
                self.sync_learner(from, last_zxid, applied);
            }
            (LearnerPhase::Syncing { zxid }, Msg::AckNewLeader { zxid: acked })
                if acked == zxid =>
            {
                x.phase = LearnerPhase::Synced;
                x.acked = x.acked.max(zxid);
                if l.established {
                    let commit = self.committed;
                    self.send(from, Msg::UpToDate { commit });
                } else {
                    self.maybe_establish();
                }
                self.maybe_commit();
            }
            (LearnerPhase::Synced, Msg::Ack { zxid }) => {
                x.acked = x.acked.max(zxid.min(self.logged));
                self.maybe_commit();
            }
            (_, Msg::Pong) | (_, Msg::Ack { .. }) => {}
            (_, m) => {
                debug!(me = self.cfg.me, from, msg = ?m, "unexpected learner message; dropping it");
                l.learners.remove(&from);
            }
        }
    }

    /// True if `zxid` is a point of our history a follower can continue
    /// from by DIFF.
    fn in_history(&self, zxid: Zxid) -> bool {
        zxid == self.base || self.history.binary_search_by_key(&zxid, |e| e.zxid).is_ok()
    }

    /// The newest point of our history at or below `zxid`.
    fn common_point(&self, zxid: Zxid) -> Zxid {
        let i = self.history.partition_point(|e| e.zxid <= zxid);
        if i == 0 {
            self.base
        } else {
            self.history[i - 1].zxid
        }
    }

    fn sync_learner(&mut self, to: Sid, last: Zxid, applied: Zxid) {
        let skip_trunc = self.cfg.planted == PlantedBug::SkipTrunc;
        let point = if self.in_history(last) || skip_trunc {
            last.min(self.logged)
        } else {
            self.common_point(last)
        };
        let snap = last < self.base || point < self.base || applied > point;
        let snap = snap && !(skip_trunc && last >= self.base);
        if snap {
            debug!(me = self.cfg.me, to, "sync by SNAP");
            self.out.push(Action::SendSnapshot { to });
        } else {
            if point != last && !skip_trunc {
                debug!(
                    me = self.cfg.me,
                    to,
                    point = format_args!("{point:#x}"),
                    "sync by TRUNC"
                );
                self.send(to, Msg::Trunc { zxid: point });
            }
            let from = self.history.partition_point(|e| e.zxid <= point);
            let entries: Vec<Entry> = self.history.iter().skip(from).cloned().collect();
            self.send(to, Msg::Diff { entries });
        }
        let (epoch, zxid) = match &self.state {
            State::Leading(l) => (l.epoch.unwrap_or(0), self.logged),
            _ => return,
        };
        self.send(to, Msg::NewLeader { epoch, zxid });
        if let State::Leading(l) = &mut self.state {
            if let Some(x) = l.learners.get_mut(&to) {
                x.phase = LearnerPhase::Syncing { zxid };
            }
        }
    }

    fn establishing_voters(&self, l: &Lead, at_least: Zxid) -> usize {
        let me = usize::from(self.cfg.is_voter(self.cfg.me) && self.durable >= at_least);
        me + l
            .learners
            .iter()
            .filter(|(s, x)| {
                !x.observer
                    && self.cfg.is_voter(**s)
                    && x.counts
                    && x.phase == LearnerPhase::Synced
                    && x.acked >= at_least
            })
            .count()
    }

    fn maybe_establish(&mut self) {
        let State::Leading(l) = &self.state else {
            return;
        };
        if l.established || l.epoch.is_none() {
            return;
        }
        if self.establishing_voters(l, l.base_zxid) < self.cfg.quorum() {
            return;
        }
        let epoch = l.epoch.unwrap_or(0);
        let base = l.base_zxid;
        let synced: Vec<Sid> = l
            .learners
            .iter()
            .filter(|(_, x)| x.phase == LearnerPhase::Synced)
            .map(|(s, _)| *s)
            .collect();
        if let State::Leading(l) = &mut self.state {
            l.established = true;
        }
        self.current_epoch = epoch;
        self.save_epochs();
        info!(me = self.cfg.me, epoch, "leadership established");
        self.out.push(Action::Role(Role::Leading { epoch }));
        self.committed = self.committed.max(base);
        self.out.push(Action::Committed(self.committed));
        let commit = self.committed;
        for s in synced {
            self.send(s, Msg::UpToDate { commit });
        }
    }

    fn maybe_commit(&mut self) {
        let State::Leading(l) = &self.state else {
            return;
        };
        if !l.established {
            return;
        }
        let mut acks: Vec<Zxid> = l
            .learners
            .iter()
            .filter(|(s, x)| {
                !x.observer && self.cfg.is_voter(**s) && x.phase == LearnerPhase::Synced
            })
            .map(|(_, x)| x.acked)
            .collect();
        if self.cfg.is_voter(self.cfg.me) {
            acks.push(self.durable);
        }
        acks.sort_unstable_by(|a, b| b.cmp(a));
        let q = self.cfg.quorum();
        let candidate = if self.cfg.planted == PlantedBug::CommitBeforeQuorum {
            self.durable
        } else if acks.len() >= q {
            acks[q - 1]
        } else {
            return;
        };
        let target = candidate.min(self.logged);
        if target <= self.committed {
            return;
        }
        self.committed = target;
        self.out.push(Action::Committed(target));
        let to = l.forwarding();
        for s in to {
            self.send(s, Msg::Commit { zxid: target });
        }
        self.trim_history();
    }

    /// Proposes `data` as the next entry (leader only, once established).
    /// The caller has already applied it to its state machine. Returns the
    /// zxid, or `None` when this server cannot propose now.
    pub fn propose(&mut self, data: Vec<u8>, now: i64) -> Option<Zxid> {
        let State::Leading(l) = &mut self.state else {
            return None;
        };
        if !l.established {
            return None;
        }
        if l.counter >= self.cfg.max_counter {
            info!(
                me = self.cfg.me,
                "zxid counter exhausted; starting a new epoch"
            );
            self.look(now);
            return None;
        }
        l.counter += 1;
        let zxid = make_zxid(l.epoch.unwrap_or(0), l.counter);
        let e = Entry {
            zxid,
            data: Arc::new(data),
        };
        let to = l.forwarding();
        self.logged = zxid;
        self.applied = zxid;
        self.history.push_back(e.clone());
        self.out.push(Action::Append(e.clone()));
        for s in to {
            self.send(s, Msg::Proposal(e.clone()));
        }
        self.trim_history();
        Some(zxid)
    }

    // ---- inputs --------------------------------------------------------

    /// A message from peer `from`.
    pub fn on_message(&mut self, from: Sid, msg: Msg, now: i64) {
        if from == self.cfg.me || !(self.cfg.is_voter(from) || self.cfg.observers.contains(&from)) {
            warn!(
                me = self.cfg.me,
                from, "message from a server not in the ensemble"
            );
            return;
        }
        if let Msg::Vote { round, vote, state } = msg {
            return self.on_vote(from, round, vote, state, now);
        }
        if let Msg::Server(_) = msg {
            // The host's business (see `Msg::Server`).
            return;
        }
        match &self.state {
            State::Following(f) if f.leader == from => self.on_leader_msg(msg, now),
            State::Leading(_) => self.on_learner_msg(from, msg, now),
            _ => {}
        }
    }

    /// The link to `peer` broke: whatever was in flight is lost.
    pub fn link_down(&mut self, peer: Sid, now: i64) {
        match &mut self.state {
            State::Following(f) if f.leader == peer => {
                info!(me = self.cfg.me, leader = peer, "lost the leader");
                self.look(now);
            }
            State::Leading(l) => {
                let known = l.learners.remove(&peer).is_some();
                debug!(me = self.cfg.me, peer, known, "link to a learner broke");
            }
            _ => {}
        }
    }

    /// The local log is durable up to `zxid`.
    pub fn durable(&mut self, zxid: Zxid, _now: i64) {
        let z = zxid.min(self.logged);
        if z <= self.durable {
            return;
        }
        self.durable = z;
        match &mut self.state {
            State::Leading(_) => {
                self.maybe_establish();
                self.maybe_commit();
            }
            State::Following(f) => {
                if f.phase == FollowPhase::Broadcast {
                    if z > f.last_ack_sent {
                        f.last_ack_sent = z;
                        let leader = f.leader;
                        self.send(leader, Msg::Ack { zxid: z });
                    }
                } else {
                    self.maybe_ack_new_leader();
                }
            }
            State::Looking => {}
        }
    }

    /// Time passes: heartbeats, timeouts, vote resends.
    pub fn tick(&mut self, now: i64) {
        match &mut self.state {
            State::Looking => {
                if now - self.election.last_sent >= self.cfg.election_resend_ms {
                    self.election.last_sent = now;
                    self.broadcast_vote();
                }
                self.maybe_decide(now);
            }
            State::Following(f) => {
                if f.phase == FollowPhase::Discovery && now - f.last_sent >= self.cfg.tick_ms / 2 {
                    // The leader may not have been leading yet when our
                    // FollowerInfo arrived.
                    f.last_sent = now;
                    let (leader, observer) = (f.leader, f.observer);
                    self.send_follower_info(leader, observer);
                    return;
                }
                let limit = if f.serving {
                    self.cfg.sync_limit_ms
                } else {
                    self.cfg.init_limit_ms
                };
                if now - f.last_heard > self.cfg.sync_limit_ms
                    || now - f.started > limit && !f.serving
                {
                    info!(
                        me = self.cfg.me,
                        leader = f.leader,
                        "leader silent or sync too slow"
                    );
                    self.look(now);
                }
            }
            State::Leading(l) => {
                if !l.established && now - l.started > self.cfg.init_limit_ms {
                    info!(me = self.cfg.me, "no quorum followed in time");
                    return self.look(now);
                }
                let limit = self.cfg.sync_limit_ms;
                l.learners.retain(|_, x| now - x.last_heard <= limit);
                if l.established {
                    let heard = 1 + l
                        .learners
                        .iter()
                        .filter(|(s, x)| !x.observer && self.cfg.is_voter(**s))
                        .count();
                    if heard < self.cfg.quorum() {
                        info!(me = self.cfg.me, "lost the quorum");
                        return self.look(now);
                    }
                }
                if now - l.last_ping >= self.cfg.tick_ms / 2 {
                    l.last_ping = now;
                    let to: Vec<Sid> = l.learners.keys().copied().collect();
                    for s in to {
                        self.send(s, Msg::Ping);
                    }
                }
            }
        }
    }
}
