//! Fast leader election, ZooKeeper's way: every looking server proposes the
//! best candidate it knows (newest epoch, then longest log, then highest
//! id), adopts any better one it hears of in its round, and decides once a
//! quorum has agreed on the same candidate for a short while. A server that
//! is already following or leading answers with its leader, so a restarted
//! server joins the running ensemble without a new election.
//!
//! Election only gives liveness; safety comes from discovery (a leader
//! needs a quorum to accept its epoch) and synchronisation.

use super::{Config, PeerState, Sid, Vote};
use std::collections::BTreeMap;

/// What an election step concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Nothing decided yet.
    Undecided,
    /// Lead (if it is us) or follow this server.
    Decided(Sid),
}

/// One server's election state across rounds.
#[derive(Debug, Default)]
pub(super) struct Election {
    pub round: u64,
    pub vote: Option<Vote>,
    /// Votes of looking voters in our round.
    received: BTreeMap<Sid, Vote>,
    /// Leaders reported by servers that are not looking.
    settled: BTreeMap<Sid, (Sid, PeerState)>,
    agreed_since: Option<i64>,
    pub last_sent: i64,
}

impl Election {
    /// Starts a new round with our own candidacy (`None` for observers,
    /// which never lead and only listen for an established leader).
    pub fn start(&mut self, cfg: &Config, own: Option<Vote>, now: i64) {
        self.round += 1;
        self.vote = own;
        self.received.clear();
        self.settled.clear();
        self.agreed_since = None;
        self.last_sent = now;
        if let Some(v) = own {
            // Our own vote counts: an ensemble of one elects itself.
            self.received.insert(cfg.me, v);
            self.check_agreement(cfg, now);
        }
    }

    /// A vote from a looking voter. Returns true if our vote changed and
    /// must be broadcast again.
    pub fn on_looking_vote(
        &mut self,
        cfg: &Config,
        from: Sid,
        round: u64,
        vote: Vote,
        own: Option<Vote>,
        now: i64,
    ) -> bool {
        let mut changed = false;
        if round > self.round {
            self.round = round;
            self.received.clear();
            self.agreed_since = None;
            self.vote = own.max(Some(vote));
            changed = true;
        } else if round == self.round {
            if Some(vote) > self.vote {
                self.vote = Some(vote);
                changed = true;
            }
        } else {
            return false;
        }
        self.received.insert(from, vote);
        if let Some(v) = self.vote {
            if cfg.is_voter(cfg.me) {
                self.received.insert(cfg.me, v);
            }
        }
        self.check_agreement(cfg, now);
        changed
    }

    /// A vote from a server that follows or leads `leader`.
    pub fn on_settled_vote(&mut self, from: Sid, leader: Sid, state: PeerState) {
        self.settled.insert(from, (leader, state));
    }

    fn check_agreement(&mut self, cfg: &Config, now: i64) {
        let Some(v) = self.vote else {
            return;
        };
        let agreeing = self
            .received
            .iter()
            .filter(|(s, x)| cfg.is_voter(**s) && **x == v)
            .count();
        if agreeing >= cfg.quorum() && cfg.is_voter(v.leader) {
            self.agreed_since.get_or_insert(now);
        } else {
            self.agreed_since = None;
        }
    }

    /// Decides when a quorum has agreed long enough, or when a quorum of
    /// settled servers names a leader that says it leads.
    pub fn outcome(&self, cfg: &Config, now: i64) -> Outcome {
        for (&leader, _) in self
            .settled
            .iter()
            .filter(|(_, (_, st))| *st == PeerState::Leading)
        {
            let backing = self
                .settled
                .iter()
                .filter(|(s, (l, st))| {
                    cfg.is_voter(**s)
                        && *l == leader
                        && matches!(st, PeerState::Leading | PeerState::Following)
                })
                .count();
            if backing >= cfg.quorum() && leader != cfg.me {
                return Outcome::Decided(leader);
            }
        }
        match (self.agreed_since, self.vote) {
            (Some(t), Some(v)) if now - t >= cfg.finalize_ms => Outcome::Decided(v.leader),
            _ => Outcome::Undecided,
        }
    }
}
