//! The tokio shell: sockets, timers and signals around the deterministic
//! core.
//!
//! Architecture invariant: only this module spawns tasks or reads the clock.
//! One driver task owns the core [`crate::core::server::Server`]; connection
//! tasks only frame bytes and pass them to it over a channel, so the core
//! needs no locks and sees inputs in one total order.

mod committer;
mod connection;
mod driver;
pub mod fourlw;
pub mod peer;
mod replication;
mod snapshotter;

use crate::config::Config;
use crate::config::Role as ServerRole;
use crate::core::server::Mode;
use crate::core::txn::codec;
use crate::core::zab;
use crate::storage::snapshot::SnapStore;
use crate::storage::txlog::{LogOptions, TxLog};
use anyhow::Context;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// The version string clients and tools see: the ZooKeeper release whose
/// protocol corral speaks, then corral's own version.
pub const VERSION: &str = concat!("3.9.3-corral-", env!("CARGO_PKG_VERSION"));

/// Wall-clock milliseconds, the time base of znode stats and session expiry.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Resolves a `server.N` host and port to one socket address.
async fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("resolving {host}:{port}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{host}:{port} resolves to no address"))
}

/// Joins the ensemble the `server.N` lines describe: builds the replica
/// from what recovery found, starts the peer links on this server's quorum
/// port, and leaves the server out of service until a leader is settled.
async fn start_ensemble(
    config: &Config,
    rec: &mut driver::Recovered,
) -> anyhow::Result<(
    replication::Replication,
    mpsc::UnboundedReceiver<peer::PeerEvent>,
)> {
    let me = config.server_id;
    let mine = config.servers.get(&me).ok_or_else(|| {
        anyhow::anyhow!(
            "this server's id {me} (myid) is not one of the server.N lines: {:?}",
            config.servers.keys().collect::<Vec<_>>()
        )
    })?;
    let (mut voters, mut observers) = (Vec::new(), Vec::new());
    let mut peers = BTreeMap::new();
    for (&id, spec) in &config.servers {
        match spec.role {
            ServerRole::Participant => voters.push(id),
            ServerRole::Observer => observers.push(id),
        }
        if id != me {
            peers.insert(id, resolve(&spec.host, spec.quorum_port).await?);
        }
    }
    let tick = config.tick_time_ms as i64;
    let mut zc = zab::Config::new(me, voters, observers, tick);
    zc.init_limit_ms = config.init_limit as i64 * tick;
    zc.sync_limit_ms = config.sync_limit as i64 * tick;
    let epochs = replication::load_epochs(&replication::epochs_path(&config.data_dir))?;
    let entries = std::mem::take(&mut rec.tail)
        .into_iter()
        .map(|t| {
            let mut data = Vec::new();
            codec::encode(&t, &mut data);
            zab::Entry {
                zxid: t.zxid,
                data: Arc::new(data),
            }
        })
        .collect();
    let recovered = zab::Recovered {
        accepted_epoch: epochs.accepted,
        accepted_from: epochs.accepted_from,
        current_epoch: epochs.current,
        base: rec.base,
        entries,
        applied: rec.server.last_zxid(),
    };
    let listen = resolve(&mine.host, mine.quorum_port).await?;
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let (sender, local) = peer::start(me, listen, peers, events_tx)
        .await
        .with_context(|| format!("binding quorum port {listen}"))?;
    let now = now_ms();
    let text = replication::membership_text(config);
    rec.server.set_mode(Mode::Down, now);
    rec.server.set_config_node(&text);
    info!(
        me,
        %local,
        members = config.servers.len(),
        "joining the ensemble"
    );
    let zab = zab::Zab::new(zc, recovered, now);
    Ok((
        replication::Replication::new(zab, sender, &config.data_dir, text),
        events_rx,
    ))
}

/// Runs a standalone server until SIGTERM or Ctrl-C.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    serve_until(config, shutdown).await
}

/// Runs a standalone server until `shutdown` completes; then closes every
/// connection after flushing what was queued for it.
pub async fn serve_until(
    config: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let addr = (config.client_port_address.as_str(), config.client_port);
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding client port {}:{}", addr.0, addr.1))?;
    let local = listener.local_addr()?;
    let log_dir = config.effective_data_log_dir().join("txlog");
    // Recovery runs before the first client is served.
    let snap_dir = config.data_dir.join("snapshot");
    let (store, loaded) = SnapStore::open(&snap_dir)?;
    let opened = TxLog::open(LogOptions {
        dir: log_dir.clone(),
        base_zxid: loaded.zxid,
        segment_bytes: 64 << 20,
        // Moderate chunks: ZooKeeper's 64 MiB default is what makes its data
        // dirs big; 4 MiB keeps file growth rare all the same.
        prealloc_bytes: (config.pre_alloc_size_kb * 1024).clamp(64 << 10, 4 << 20),
        force_sync: config.force_sync,
    })?;
    let config = Arc::new(config);
    let (tx, rx) = mpsc::channel(4096);
    let mut recovered = driver::recover(&config, opened.log, opened.txns, store, loaded, log_dir)?;
    let ensemble = if config.servers.len() > 1 {
        Some(start_ensemble(&config, &mut recovered).await?)
    } else {
        None
    };
    let driver = tokio::spawn(driver::run(
        config.clone(),
        rx,
        local.port(),
        recovered,
        ensemble,
    ));
    info!(%local, version = VERSION, "serving clients");
    // Tests and scripts wait for this exact line.
    println!("corral: serving clients on {local}");

    let next_conn = AtomicU64::new(1);
    let limits = connection::Limits::new(&config);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Some(permit) = limits.admit(peer.ip()) else {
                        warn!(%peer, max = config.max_client_cnxns, "too many connections from this address, closing");
                        continue;
                    };
                    let id = next_conn.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection::run(id, stream, peer, tx.clone(), config.clone(), permit));
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
    info!("shutting down: closing client connections");
    let (done_tx, done_rx) = oneshot::channel();
    let _ = tx.send(driver::Input::Shutdown { done: done_tx }).await;
    let _ = done_rx.await;
    drop(tx);
    let _ = driver.await;
    info!("stopped");
    Ok(())
}
