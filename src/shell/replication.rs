//! Runs the Zab replica beside the core server in ensemble mode: peer
//! messages, fsync progress and ticks go in; the replica's actions are
//! performed in order (log appends and truncations through the committer,
//! txns delivered to the server, state images sent and installed, epochs
//! saved) and the server's mode follows the replica's role.
//!
//! The snapshot store only ever receives committed changes: a leader's
//! changes wait here until the quorum commits them, because a leader that
//! loses its quorum may have applied txns the next leader never had.

use super::committer::{Committer, Job};
use super::peer::{PeerEvent, PeerSender};
use crate::config::Config;
use crate::core::forward::Forward;
use crate::core::image;
use crate::core::server::{Changes, Mode, Server};
use crate::core::txn::{codec, Txn};
use crate::core::zab::{self, Action, Entry, Msg, Role, Zab};
use crate::core::Zxid;
use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing::{error, info, warn};

/// The replica and what the shell keeps beside it.
pub struct Replication {
    pub zab: Zab,
    peers: PeerSender,
    epochs_path: PathBuf,
    /// Snapshot changes of txns not yet known to be committed.
    stash: VecDeque<Changes>,
    /// Txns this leader just proposed, so their appends need no decode.
    proposed: VecDeque<Txn>,
    /// `/zookeeper/config`'s text, put back after a SNAP replaces the tree.
    config_text: String,
}

/// The epochs Zab must never forget, as saved in `<dataDir>/epochs`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: zab::Epoch,
    pub accepted_from: zab::Sid,
    pub current: zab::Epoch,
}

/// Where a data dir keeps its epochs.
pub fn epochs_path(data_dir: &Path) -> PathBuf {
    data_dir.join("epochs")
}

/// Reads the epochs file; a missing file means a server that never joined
/// an epoch.
pub fn load_epochs(path: &Path) -> anyhow::Result<Epochs> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Epochs::default()),
        Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    };
    let nums: Vec<u64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("corrupt epochs file {}: {e}", path.display()))?;
    let [accepted, accepted_from, current] = nums[..] else {
        anyhow::bail!("corrupt epochs file {}: expected 3 numbers", path.display());
    };
    let epoch = |n: u64| {
        zab::Epoch::try_from(n)
            .map_err(|_| anyhow::anyhow!("corrupt epochs file {}: {n}", path.display()))
    };
    Ok(Epochs {
        accepted: epoch(accepted)?,
        accepted_from,
        current: epoch(current)?,
    })
}

/// Writes the epochs file durably (temp file, fsync, rename, fsync dir).
fn save_epochs(path: &Path, e: Epochs) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{} {} {}", e.accepted, e.accepted_from, e.current)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `/zookeeper/config` in ZooKeeper's format: one `server.N=` line per
/// member, then the config version.
pub fn membership_text(config: &Config) -> String {
    let mut out = String::new();
    for (id, s) in &config.servers {
        let role = match s.role {
            crate::config::Role::Participant => "participant",
            crate::config::Role::Observer => "observer",
        };
        out.push_str(&format!(
            "server.{id}={}:{}:{}:{role}",
            s.host, s.quorum_port, s.election_port
        ));
        if let Some(port) = s.client_port {
            let host = s.client_addr.as_deref().unwrap_or("0.0.0.0");
            out.push_str(&format!(";{host}:{port}"));
        }
        out.push('\n');
    }
    out.push_str("version=0");
    out
}

/// Stops the process: the replica asked for something this server cannot
/// do safely (a corrupt entry or image from the leader, a failed epoch
/// write), and carrying on could diverge from the ensemble.
fn fatal(what: &str) -> ! {
    error!("{what}; exiting");
    std::process::exit(2);
}

fn decode_entry(e: &Entry) -> Txn {
    codec::decode(&e.data).unwrap_or_else(|err| {
        fatal(&format!(
            "undecodable txn {:#x} from the leader: {err}",
            e.zxid
        ))
    })
}

impl Replication {
    /// Wraps a replica built from what recovery found.
    pub fn new(zab: Zab, peers: PeerSender, data_dir: &Path, config_text: String) -> Self {
        Replication {
            zab,
            peers,
            epochs_path: epochs_path(data_dir),
            stash: VecDeque::new(),
            proposed: VecDeque::new(),
            config_text,
        }
    }

    /// The server's mode for a replica role.
    fn mode_for(role: Role) -> Mode {
        match role {
            Role::Looking => Mode::Down,
            Role::Leading { epoch } => Mode::Leader { epoch },
            Role::Following { .. } | Role::Observing { .. } => Mode::Learner,
        }
    }

    /// A peer event.
    pub fn on_peer(&mut self, ev: PeerEvent, server: &mut Server, c: &Committer, now: i64) {
        match ev {
            PeerEvent::Message {
                from,
                msg: Msg::Server(bytes),
            } => match Forward::decode(&bytes) {
                Ok(Forward::Synced {
                    session,
                    cxid,
                    zxid,
                }) => server.synced(session, cxid, zxid),
                Ok(f) => server.on_forward(from, f, now),
                Err(e) => warn!(from, error = %e, "undecodable server message from a peer"),
            },
            PeerEvent::Message { from, msg } => self.zab.on_message(from, msg, now),
            PeerEvent::Down { peer } => self.zab.link_down(peer, now),
        }
        self.after_server(server, c, now);
    }

    /// The local log is durable up to `zxid`.
    pub fn durable(&mut self, zxid: Zxid, server: &mut Server, c: &Committer, now: i64) {
        self.zab.durable(zxid, now);
        self.after_server(server, c, now);
    }

    /// Time passes: heartbeats, timeouts, and (on a learner) the report of
    /// which sessions were heard from.
    pub fn tick(&mut self, server: &mut Server, c: &Committer, now: i64) {
        self.zab.tick(now);
        let touched = server.take_touched();
        if !touched.is_empty() {
            if let Some(leader) = self.leader_to_forward_to() {
                let f = Forward::Touch { sessions: touched };
                self.peers.send(leader, &Msg::Server(f.encode()));
            }
        }
        self.after_server(server, c, now);
    }

    fn leader_to_forward_to(&self) -> Option<zab::Sid> {
        match self.zab.role() {
            Role::Following { leader } | Role::Observing { leader } => Some(leader),
            _ => None,
        }
    }

    /// Takes what the server produced (a leader's txns, a learner's
    /// forwards, a leader's answers) into the ensemble, then performs the
    /// replica's actions.
    pub fn after_server(&mut self, server: &mut Server, c: &Committer, now: i64) {
        let txns = server.take_txns();
        for t in txns {
            let mut data = Vec::with_capacity(64);
            codec::encode(&t, &mut data);
            match self.zab.propose(data, now) {
                Some(z) if z == t.zxid => self.proposed.push_back(t),
                got => fatal(&format!(
                    "the server prepped txn {:#x} but the replica proposed {got:?}",
                    t.zxid
                )),
            }
        }
        let forwards = server.take_forwards();
        if !forwards.is_empty() {
            match self.leader_to_forward_to() {
                Some(leader) => {
                    for f in forwards {
                        self.peers.send(leader, &Msg::Server(f.encode()));
                    }
                }
                None => warn!(
                    count = forwards.len(),
                    "requests to forward but no leader; dropping them"
                ),
            }
        }
        for (to, f) in server.take_answers() {
            self.peers.send(to, &Msg::Server(f.encode()));
        }
        self.perform(server, c, now);
    }

    fn perform(&mut self, server: &mut Server, c: &Committer, now: i64) {
        loop {
            let actions = self.zab.take_actions();
            if actions.is_empty() {
                break;
            }
            let mut appends = Vec::new();
            for a in actions {
                if !matches!(a, Action::Append(_)) && !appends.is_empty() {
                    c.submit(Job::Append(std::mem::take(&mut appends), None));
                }
                self.act(a, &mut appends, server, c, now);
            }
            if !appends.is_empty() {
                c.submit(Job::Append(appends, None));
            }
        }
        let ch = server.take_changes();
        if !ch.nodes.is_empty() || !ch.sessions.is_empty() {
            self.stash.push_back(ch);
        }
        let committed = self.zab.committed();
        while self.stash.front().is_some_and(|ch| ch.zxid <= committed) {
            if let Some(ch) = self.stash.pop_front() {
                c.submit(Job::Changes(ch));
            }
        }
    }

    fn act(
        &mut self,
        a: Action,
        appends: &mut Vec<Txn>,
        server: &mut Server,
        c: &Committer,
        now: i64,
    ) {
        match a {
            Action::Send { to, msg } => self.peers.send(to, &msg),
            Action::Append(e) => {
                while self.proposed.front().is_some_and(|t| t.zxid < e.zxid) {
                    self.proposed.pop_front();
                }
                let txn = match self.proposed.front() {
                    Some(t) if t.zxid == e.zxid => self.proposed.pop_front(),
                    _ => None,
                };
                appends.push(txn.unwrap_or_else(|| decode_entry(&e)));
            }
            Action::Truncate { zxid } => {
                self.proposed.clear();
                c.run_and_wait(|done| Job::Truncate(zxid, done));
            }
            Action::InstallSnapshot { zxid, image } => {
                let img = image::decode(&image)
                    .unwrap_or_else(|e| fatal(&format!("undecodable state image: {e}")));
                if img.zxid != zxid {
                    fatal("the leader's state image disagrees with its zxid");
                }
                if let Err(e) = server.install_image(&img, now) {
                    fatal(&format!("inconsistent state image: {e}"));
                }
                server.set_config_node(&self.config_text);
                self.stash.clear();
                self.proposed.clear();
                info!(
                    zxid = format_args!("{zxid:#x}"),
                    znodes = img.nodes.len(),
                    "installed the leader's state image"
                );
                c.run_and_wait(|done| Job::Install(Arc::new(img), done));
            }
            Action::SendSnapshot { to } => {
                let msg = Msg::Snap {
                    zxid: server.last_zxid(),
                    image: Arc::new(server.image()),
                };
                self.peers.send(to, &msg);
            }
            Action::SaveEpochs {
                accepted,
                accepted_from,
                current,
            } => {
                let e = Epochs {
                    accepted,
                    accepted_from,
                    current,
                };
                if let Err(err) = save_epochs(&self.epochs_path, e) {
                    fatal(&format!(
                        "saving epochs to {}: {err}",
                        self.epochs_path.display()
                    ));
                }
            }
            Action::Deliver(e) => server.deliver(&decode_entry(&e)),
            Action::Committed(z) => server.mark_durable(z),
            Action::Role(role) => {
                info!(?role, "replication role");
                server.set_mode(Self::mode_for(role), now);
            }
        }
    }
}
