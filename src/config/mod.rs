//! Server configuration: ZooKeeper's `zoo.cfg`, corral's own TOML file and
//! `--set KEY=VALUE` overrides, all read through one key/value setter so the
//! three sources accept exactly the same names and values.
//!
//! Key names are ZooKeeper's (`tickTime`, `dataDir`, `server.1`,
//! `jute.maxbuffer`, ...), so an existing `zoo.cfg` works unchanged and the
//! ZooKeeper documentation applies. Keys that ZooKeeper knows but corral does
//! not act on are accepted quietly; unknown keys are warned about and ignored;
//! bad values of known keys are errors naming the key and where it came from.

mod properties;
mod server;

pub use server::{Role, ServerSpec};

use anyhow::{anyhow, bail, Context as _};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

/// Everything corral's server needs to know at startup, with ZooKeeper's
/// meanings and (except where noted) ZooKeeper's defaults.
///
/// `Config::default()` is what `corral` runs with when given no config file.
/// Build one in tests with `Config { client_port: 0, ..Config::default() }`;
/// note that the session timeout bounds are then not re-derived from
/// `tick_time_ms` (only [`Config::load`] does that).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `tickTime`: the basic time unit in ms; session timeouts default to
    /// multiples of it and the session expiry clock ticks at this rate.
    pub tick_time_ms: u64,
    /// `dataDir`: where snapshots (and, by default, the txn log) live;
    /// relative paths are relative to the current directory.
    pub data_dir: PathBuf,
    /// `dataLogDir`: a separate directory for the txn log, if any.
    pub data_log_dir: Option<PathBuf>,
    /// `clientPort`: the client listen port; 0 picks an ephemeral port.
    pub client_port: u16,
    /// `clientPortAddress`: the client listen address. 127.0.0.1 by default
    /// (safe for a dev server); 0.0.0.0 when a zoo.cfg omits it, as in
    /// ZooKeeper.
    pub client_port_address: String,
    /// `maxClientCnxns`: concurrent connections allowed per client IP
    /// (0 = unlimited).
    pub max_client_cnxns: u32,
    /// `minSessionTimeout`: lower bound for negotiated session timeouts, ms
    /// (default 2 × tickTime).
    pub min_session_timeout_ms: u64,
    /// `maxSessionTimeout`: upper bound for negotiated session timeouts, ms
    /// (default 20 × tickTime).
    pub max_session_timeout_ms: u64,
    /// `initLimit`: ticks a follower may take to connect and sync to a leader.
    pub init_limit: u32,
    /// `syncLimit`: ticks a follower may lag behind the leader.
    pub sync_limit: u32,
    /// `server.N` lines: the ensemble, keyed by server id (empty =
    /// standalone).
    pub servers: BTreeMap<u64, ServerSpec>,
    /// This server's id: the `myid` key (corral extension), else
    /// `<dataDir>/myid` when `servers` is non-empty, else 0.
    pub server_id: u64,
    /// `4lw.commands.whitelist`: enabled four-letter words; `"*"` = all.
    /// corral enables all by default (ZooKeeper only `srvr`); see
    /// [`Config::four_letter_allowed`].
    pub four_letter_whitelist: Vec<String>,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`:
    /// `super:base64(sha1("super:password"))`; whoever authenticates as
    /// that digest bypasses all ACLs.
    pub super_digest: Option<String>,
    /// `zookeeper.extendedTypesEnabled`: allow TTL nodes. corral enables them
    /// by default, unlike ZooKeeper.
    pub extended_types_enabled: bool,
    /// `znode.container.checkIntervalMs`: how often empty container and
    /// expired TTL nodes are looked for.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute`: cap on container/TTL deletions per
    /// minute.
    pub container_max_per_minute: u32,
    /// `znode.container.maxNeverUsedIntervalMs`: delete containers that never
    /// had a child after this long (0 = never).
    pub container_max_never_used_interval_ms: u64,
    /// `jute.maxbuffer`: the largest request/response/znode payload, bytes.
    pub jute_max_buffer: usize,
    /// `readonlymode.enabled`: serve read-only clients when out of quorum.
    pub read_only_mode: bool,
    /// `globalOutstandingLimit`: queued requests before the server stops
    /// reading from clients.
    pub global_outstanding_limit: u32,
    /// `autopurge.snapRetainCount`: snapshots (and their logs) kept by
    /// autopurge; at least 3.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval`: hours between purges (0 = never purge).
    pub autopurge_purge_interval_h: u32,
    /// `preAllocSize`: txn log files are preallocated in chunks of this many
    /// KiB.
    pub pre_alloc_size_kb: u64,
    /// `snapCount`: txns logged between snapshots (randomized by ±50% in
    /// ZooKeeper to stagger servers).
    pub snap_count: u64,
    /// `forceSync`: fsync the txn log before acknowledging writes.
    pub force_sync: bool,
    /// `fsync.warningthresholdms`: warn when an fsync takes longer than this.
    pub fsync_warning_threshold_ms: u64,
    /// `admin.enableServer`: the HTTP admin server (parsed, not yet served).
    pub admin_enable_server: bool,
    /// `admin.serverPort`: the HTTP admin server port (parsed, not yet used).
    pub admin_server_port: u16,
    /// `metricsProvider.httpPort`: the Prometheus metrics port (parsed, not
    /// yet used).
    pub metrics_provider_http_port: u16,
}

impl Default for Config {
    /// The configuration of `corral` run without a config file: a
    /// standalone server on 127.0.0.1:2181 keeping its data in `./data`.
    fn default() -> Config {
        let tick_time_ms = 2000;
        Config {
            tick_time_ms,
            data_dir: PathBuf::from("./data"),
            data_log_dir: None,
            client_port: 2181,
            client_port_address: "127.0.0.1".to_string(),
            max_client_cnxns: 60,
            min_session_timeout_ms: 2 * tick_time_ms,
            max_session_timeout_ms: 20 * tick_time_ms,
            init_limit: 10,
            sync_limit: 5,
            servers: BTreeMap::new(),
            server_id: 0,
            four_letter_whitelist: vec!["*".to_string()],
            super_digest: None,
            extended_types_enabled: true,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used_interval_ms: 0,
            jute_max_buffer: 0xfffff,
            read_only_mode: false,
            global_outstanding_limit: 1000,
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_h: 0,
            pre_alloc_size_kb: 65536,
            snap_count: 100_000,
            force_sync: true,
            fsync_warning_threshold_ms: 1000,
            admin_enable_server: false,
            admin_server_port: 8080,
            metrics_provider_http_port: 7000,
        }
    }
}

/// Values that only the running server knows, filled into the `conf`
/// four-letter word's output by [`Config::conf_text`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfRuntime {
    /// The port actually bound (differs from `client_port` when that is 0).
    pub client_port: u16,
    /// Bytes in the snapshot directory (`dataDirSize`).
    pub data_dir_size: u64,
    /// Bytes in the txn log directory (`dataLogSize`).
    pub data_log_size: u64,
}

/// The smallest `autopurge.snapRetainCount` ZooKeeper allows.
const MIN_SNAP_RETAIN_COUNT: u32 = 3;

impl Config {
    /// Builds the configuration from an optional file and `--set KEY=VALUE`
    /// overrides (applied after the file, in order), so the CLI, tests and
    /// deployments share one loading path.
    ///
    /// A file whose name ends in `.toml` is corral's format (a flat table of
    /// zoo.cfg key names; nested tables are joined with `.`); anything else
    /// is read as a ZooKeeper `zoo.cfg` (Java properties). Derived values
    /// (session timeout bounds, `myid`, the client address) are settled
    /// after every source has been read.
    ///
    /// # Errors
    /// An unreadable or unparsable file, a `--set` without `=`, an invalid
    /// value for a known key (naming the key and its file and line), an
    /// unreadable `myid`, or inconsistent settings (e.g. minSessionTimeout
    /// above maxSessionTimeout).
    pub fn load(file: Option<&Path>, sets: &[String]) -> anyhow::Result<Config> {
        let mut builder = Builder::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            let is_toml = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
            if is_toml {
                builder.apply_toml(path, &text)?;
            } else {
                builder.zoo_cfg = true;
                builder.apply_zoo_cfg(path, &text)?;
            }
        }
        for set in sets {
            let (key, value) = set
                .split_once('=')
                .ok_or_else(|| anyhow!("--set {set:?}: expected KEY=VALUE"))?;
            builder.apply(&Source::Set, key.trim(), value.trim())?;
        }
        builder.finish()
    }

    /// The txn log directory: `dataLogDir` if set, else `dataDir`.
    pub fn effective_data_log_dir(&self) -> &Path {
        self.data_log_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// This server's ensemble entry, if it runs as part of an ensemble.
    pub fn local_server(&self) -> Option<&ServerSpec> {
        self.servers.get(&self.server_id)
    }

    /// Whether the four-letter word `cmd` may run, with ZooKeeper's rules:
    /// listed (or `*`) in the whitelist, and `srvr` always, `isro` whenever
    /// read-only mode is enabled.
    pub fn four_letter_allowed(&self, cmd: &str) -> bool {
        cmd == "srvr"
            || (cmd == "isro" && self.read_only_mode)
            || self
                .four_letter_whitelist
                .iter()
                .any(|w| w == "*" || w == cmd)
    }

    /// The `conf` four-letter word's `key=value` lines, in ZooKeeper 3.8's
    /// order and spelling, from configuration alone: `dataDirSize` and
    /// `dataLogSize` are omitted (they follow `dataDir` and `dataLogDir`),
    /// `clientPort` is the configured one, and the ensemble's `membership:`
    /// block is not included. [`Config::conf_text`] renders the full reply.
    pub fn conf_lines(&self) -> Vec<(String, String)> {
        let mut lines: Vec<(String, String)> = Vec::new();
        let mut push = |k: &str, v: String| lines.push((k.to_string(), v));
        push("clientPort", self.client_port.to_string());
        push("secureClientPort", "-1".to_string());
        push("dataDir", version_dir(&self.data_dir));
        push("dataLogDir", version_dir(self.effective_data_log_dir()));
        push("tickTime", self.tick_time_ms.to_string());
        push("maxClientCnxns", self.max_client_cnxns.to_string());
        push("minSessionTimeout", self.min_session_timeout_ms.to_string());
        push("maxSessionTimeout", self.max_session_timeout_ms.to_string());
        push("clientPortListenBacklog", "-1".to_string());
        push("serverId", self.server_id.to_string());
        if !self.servers.is_empty() {
            push("initLimit", self.init_limit.to_string());
            push("syncLimit", self.sync_limit.to_string());
            push("electionAlg", "3".to_string());
            if let Some(me) = self.local_server() {
                push("electionPort", me.election_port.to_string());
                push("quorumPort", me.quorum_port.to_string());
                push("peerType", me.role.peer_type().to_string());
            }
        }
        lines
    }

    /// The complete `conf` reply, byte for byte as ZooKeeper 3.8 writes it:
    /// [`Config::conf_lines`] with the runtime values filled in, and for an
    /// ensemble the `membership:` block (`server.N=...` lines and
    /// `version=0`, which ends without a newline, as in ZooKeeper).
    pub fn conf_text(&self, runtime: &ConfRuntime) -> String {
        let mut out = String::new();
        for (key, value) in self.conf_lines() {
            let value = if key == "clientPort" {
                runtime.client_port.to_string()
            } else {
                value
            };
            let _ = writeln!(out, "{key}={value}");
            match key.as_str() {
                "dataDir" => {
                    let _ = writeln!(out, "dataDirSize={}", runtime.data_dir_size);
                }
                "dataLogDir" => {
                    let _ = writeln!(out, "dataLogSize={}", runtime.data_log_size);
                }
                _ => {}
            }
        }
        if !self.servers.is_empty() {
            out.push_str("membership: \n");
            for (id, spec) in &self.servers {
                let _ = writeln!(out, "server.{id}={spec}");
            }
            out.push_str("version=0");
        }
        out
    }
}

/// `<dir>/version-2` made absolute the way Java's `File.getAbsolutePath`
/// does (joined to the current directory, `.` components kept).
fn version_dir(dir: &Path) -> String {
    let dir = if dir.is_absolute() {
        dir.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(dir))
            .unwrap_or_else(|_| dir.to_path_buf())
    };
    dir.join("version-2").display().to_string()
}

/// Where a key/value came from, for error and warning messages.
enum Source<'a> {
    /// A zoo.cfg line.
    ZooCfg(&'a Path, usize),
    /// A corral TOML file.
    Toml(&'a Path),
    /// A `--set` argument.
    Set,
}

impl fmt::Display for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::ZooCfg(path, line) => write!(f, "{}:{line}", path.display()),
            Source::Toml(path) => write!(f, "{}", path.display()),
            Source::Set => f.write_str("--set"),
        }
    }
}

/// What the setter made of a key.
#[derive(Debug, PartialEq, Eq)]
enum Recognized {
    /// A key corral acts on; its value was stored.
    Applied,
    /// A ZooKeeper key corral accepts but does not act on.
    Ignored,
    /// Not a key corral or ZooKeeper knows.
    Unknown,
}

/// A [`Config`] being assembled, plus what was given explicitly, for the
/// values that are derived once all sources are read.
#[derive(Default)]
struct Builder {
    config: Config,
    /// A zoo.cfg was loaded (changes the clientPortAddress default).
    zoo_cfg: bool,
    client_port_set: bool,
    client_port_address: Option<String>,
    /// Explicit session timeout bounds (`None` = absent or -1: derive from
    /// tickTime).
    min_session_timeout: Option<u64>,
    max_session_timeout: Option<u64>,
    myid_set: bool,
}

impl Builder {
    fn apply_zoo_cfg(&mut self, path: &Path, text: &str) -> anyhow::Result<()> {
        let entries = properties::parse(text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        for entry in entries {
            self.apply(&Source::ZooCfg(path, entry.line), &entry.key, &entry.value)?;
        }
        Ok(())
    }

    fn apply_toml(&mut self, path: &Path, text: &str) -> anyhow::Result<()> {
        let table: toml::Table = text
            .parse()
            .map_err(|e| anyhow!("{}: invalid TOML: {e}", path.display()))?;
        let mut flat = Vec::new();
        flatten_toml("", &table, &mut flat).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        for (key, value) in flat {
            self.apply(&Source::Toml(path), &key, &value)?;
        }
        Ok(())
    }

    /// Applies one key/value and logs what was ignored.
    fn apply(&mut self, source: &Source<'_>, key: &str, value: &str) -> anyhow::Result<()> {
        match self
            .set(key, value)
            .map_err(|e| anyhow!("{source}: invalid value {value:?} for {key}: {e}"))?
        {
            Recognized::Applied => {}
            Recognized::Ignored => {
                tracing::debug!("{source}: {key} is a ZooKeeper setting corral ignores")
            }
            Recognized::Unknown => {
                tracing::warn!("{source}: unknown configuration key {key:?} ignored")
            }
        }
        Ok(())
    }

    /// The one setter behind zoo.cfg, TOML and `--set`.
    fn set(&mut self, key: &str, value: &str) -> Result<Recognized, String> {
        let c = &mut self.config;
        if let Some(id) = key.strip_prefix("server.") {
            let id: u64 = id
                .parse()
                .map_err(|_| format!("server id {id:?} in the key is not a number"))?;
            c.servers.insert(id, ServerSpec::parse(value)?);
            return Ok(Recognized::Applied);
        }
        match key {
            "tickTime" => {
                c.tick_time_ms = parse_u64(value)?;
                if c.tick_time_ms == 0 {
                    return Err("tickTime must be positive".to_string());
                }
            }
            "dataDir" => c.data_dir = parse_path(value)?,
            "dataLogDir" => {
                c.data_log_dir = if value.is_empty() {
                    None
                } else {
                    Some(PathBuf::from(value))
                }
            }
            "clientPort" => {
                c.client_port = parse_num(value)?;
                self.client_port_set = true;
            }
            "clientPortAddress" => {
                let addr = value.trim_start_matches('[').trim_end_matches(']');
                if addr.is_empty() {
                    return Err("expected a host name or IP address".to_string());
                }
                self.client_port_address = Some(addr.to_string());
            }
            "maxClientCnxns" => c.max_client_cnxns = parse_num(value)?,
            "minSessionTimeout" => self.min_session_timeout = parse_timeout(value)?,
            "maxSessionTimeout" => self.max_session_timeout = parse_timeout(value)?,
            "initLimit" => c.init_limit = parse_num(value)?,
            "syncLimit" => c.sync_limit = parse_num(value)?,
            "myid" => {
                c.server_id = parse_u64(value)?;
                self.myid_set = true;
            }
            "4lw.commands.whitelist" | "zookeeper.4lw.commands.whitelist" => {
                c.four_letter_whitelist = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
            }
            "zookeeper.DigestAuthenticationProvider.superDigest"
            | "DigestAuthenticationProvider.superDigest" => {
                c.super_digest = if value.is_empty() {
                    None
                } else if value.contains(':') {
                    Some(value.to_string())
                } else {
                    return Err("expected user:base64digest".to_string());
                }
            }
            "zookeeper.extendedTypesEnabled" | "extendedTypesEnabled" => {
                c.extended_types_enabled = parse_bool(value)?
            }
            "znode.container.checkIntervalMs" => c.container_check_interval_ms = parse_u64(value)?,
            "znode.container.maxPerMinute" => c.container_max_per_minute = parse_num(value)?,
            "znode.container.maxNeverUsedIntervalMs" => {
                c.container_max_never_used_interval_ms = parse_u64(value)?
            }
            "jute.maxbuffer" => c.jute_max_buffer = parse_decode(value)?,
            "readonlymode.enabled" => c.read_only_mode = parse_bool(value)?,
            "globalOutstandingLimit" | "zookeeper.globalOutstandingLimit" => {
                c.global_outstanding_limit = parse_num(value)?
            }
            "autopurge.snapRetainCount" => c.autopurge_snap_retain_count = parse_num(value)?,
            "autopurge.purgeInterval" => {
                // ZooKeeper: any value <= 0 disables purging.
                let hours: i64 = parse_num(value)?;
                c.autopurge_purge_interval_h = u32::try_from(hours.max(0))
                    .map_err(|_| "too large for a number of hours".to_string())?;
            }
            "preAllocSize" | "zookeeper.preAllocSize" => c.pre_alloc_size_kb = parse_u64(value)?,
            "snapCount" | "zookeeper.snapCount" => c.snap_count = parse_u64(value)?,
            "forceSync" | "zookeeper.forceSync" => c.force_sync = parse_bool(value)?,
            "fsync.warningthresholdms" | "zookeeper.fsync.warningthresholdms" => {
                c.fsync_warning_threshold_ms = parse_u64(value)?
            }
            "admin.enableServer" | "zookeeper.admin.enableServer" => {
                c.admin_enable_server = parse_bool(value)?
            }
            "admin.serverPort" | "zookeeper.admin.serverPort" => {
                c.admin_server_port = parse_num(value)?
            }
            "metricsProvider.httpPort" => c.metrics_provider_http_port = parse_num(value)?,
            _ if is_ignored(key) => return Ok(Recognized::Ignored),
            _ => return Ok(Recognized::Unknown),
        }
        Ok(Recognized::Applied)
    }

    /// Settles the derived values once every source has been applied.
    fn finish(mut self) -> anyhow::Result<Config> {
        let c = &mut self.config;
        c.min_session_timeout_ms = self.min_session_timeout.unwrap_or(2 * c.tick_time_ms);
        c.max_session_timeout_ms = self.max_session_timeout.unwrap_or(20 * c.tick_time_ms);
        if c.min_session_timeout_ms > c.max_session_timeout_ms {
            bail!(
                "minSessionTimeout ({}) must not be larger than maxSessionTimeout ({})",
                c.min_session_timeout_ms,
                c.max_session_timeout_ms
            );
        }
        c.client_port_address = match self.client_port_address.take() {
            Some(addr) => addr,
            None if self.zoo_cfg => "0.0.0.0".to_string(),
            None => "127.0.0.1".to_string(),
        };
        if c.autopurge_snap_retain_count < MIN_SNAP_RETAIN_COUNT {
            tracing::warn!(
                "autopurge.snapRetainCount {} is below {MIN_SNAP_RETAIN_COUNT}; using {MIN_SNAP_RETAIN_COUNT}",
                c.autopurge_snap_retain_count
            );
            c.autopurge_snap_retain_count = MIN_SNAP_RETAIN_COUNT;
        }
        if c.snap_count < 2 {
            tracing::warn!("snapCount {} is below 2; using 2", c.snap_count);
            c.snap_count = 2;
        }
        if !c.servers.is_empty() {
            if !self.myid_set {
                if let Some(id) = read_myid(&c.data_dir)? {
                    c.server_id = id;
                }
            }
            self.apply_local_client_address()?;
        }
        Ok(self.config)
    }

    /// ZooKeeper's `setupClientPort`: a client address in this server's own
    /// `server.N` line is where it listens, and must agree with an explicit
    /// `clientPort`/`clientPortAddress`.
    fn apply_local_client_address(&mut self) -> anyhow::Result<()> {
        let c = &mut self.config;
        let Some(me) = c.servers.get(&c.server_id) else {
            tracing::warn!(
                "server id {} has no server.{} line; the ensemble configuration does not include this server",
                c.server_id,
                c.server_id
            );
            return Ok(());
        };
        let Some(dyn_port) = me.client_port else {
            return Ok(());
        };
        let dyn_addr = me
            .client_addr
            .clone()
            .unwrap_or_else(|| "0.0.0.0".to_string());
        if self.client_port_set {
            let static_addr = self.client_port_address.as_deref().unwrap_or("0.0.0.0");
            let static_wildcard = is_wildcard(static_addr);
            if (static_wildcard && c.client_port != dyn_port)
                || (!static_wildcard && (static_addr, c.client_port) != (&*dyn_addr, dyn_port))
            {
                bail!(
                    "client address {static_addr}:{} (clientPort/clientPortAddress) differs from {dyn_addr}:{dyn_port} in server.{}",
                    c.client_port,
                    c.server_id
                );
            }
        }
        c.client_port = dyn_port;
        c.client_port_address = dyn_addr;
        Ok(())
    }
}

/// Reads `<dataDir>/myid`; absent is fine (standalone or not yet set up).
fn read_myid(data_dir: &Path) -> anyhow::Result<Option<u64>> {
    let path = data_dir.join("myid");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!("{} not found; using server id 0", path.display());
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let id = text.trim();
    id.parse()
        .map(Some)
        .map_err(|_| anyhow!("{}: server id {id:?} is not a number", path.display()))
}

fn is_wildcard(addr: &str) -> bool {
    matches!(addr, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

/// ZooKeeper keys (and the system properties a zoo.cfg key can stand for)
/// that corral accepts without acting on them.
fn is_ignored(key: &str) -> bool {
    const KEYS: &[&str] = &[
        "standaloneEnabled",
        "reconfigEnabled",
        "quorumListenOnAllIPs",
        "secureClientPort",
        "secureClientPortAddress",
        "clientPortListenBacklog",
        "dynamicConfigFile",
        "electionAlg",
        "peerType",
        "syncEnabled",
        "localSessionsEnabled",
        "localSessionsUpgradingEnabled",
        "connectToLearnerMasterLimit",
        "sslQuorum",
        "portUnification",
        "sslQuorumReloadCertFiles",
        "oraclePath",
        "serverCnxnFactory",
        "maxCnxns",
        "snapshot.trust.empty",
        "audit.enable",
        "skipACL",
        "digest.enabled",
        "leaderServes",
        "commitLogCount",
        "snapSizeLimitInKb",
        "txnLogSizeLimitInKb",
        "tcpKeepAlive",
        "clientTcpKeepAlive",
        "electionPortBindRetry",
        "enforceQuota",
        "requireClientAuthScheme",
        "sessionRequireClientSASLAuth",
        "flushDelay",
        "maxWriteQueuePollTime",
        "maxBatchSize",
        "requestThrottleLimit",
        "requestThrottleStallTime",
        "requestThrottleDropStale",
        "request_throttler.shutdownTimeout",
        "watchManagerName",
        "nio.numSelectorThreads",
        "nio.numWorkerThreads",
        "nio.shutdownTimeout",
        "cnxTimeout",
        "jute.maxbuffer.extrasize",
        "snapshot.compression.method",
        "closeSessionTxn.enabled",
        "learner.asyncSending",
        "learner.closeSocketAsync",
        "leader.closeSocketAsync",
        "4lw.commands.enable",
        "client.secure",
        "clientCnxnSocket",
    ];
    const PREFIXES: &[&str] = &[
        "metricsProvider.",
        "quorum.",
        "multiAddress.",
        "group.",
        "weight.",
        "admin.",
        "ssl.",
        "authProvider.",
        "jvm.pause.",
        "kerberos.",
        "sasl.",
        "netty.",
    ];
    let bare = key.strip_prefix("zookeeper.").unwrap_or(key);
    KEYS.contains(&bare) || PREFIXES.iter().any(|p| bare.starts_with(p))
}

/// Flattens a TOML table to `(dotted.key, string value)` pairs: nested
/// tables join their keys with `.`, arrays become comma-separated lists.
fn flatten_toml(
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    for (key, value) in table {
        let key = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten_toml(&key, inner, out)?,
            toml::Value::Array(items) => {
                let items = items
                    .iter()
                    .map(|item| toml_scalar(&key, item))
                    .collect::<Result<Vec<_>, _>>()?;
                out.push((key, items.join(",")));
            }
            scalar => {
                let s = toml_scalar(&key, scalar)?;
                out.push((key, s));
            }
        }
    }
    Ok(())
}

fn toml_scalar(key: &str, value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Datetime(d) => Ok(d.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            Err(format!("{key}: nested arrays and tables are not supported"))
        }
    }
}

/// Integer types a setting can have, with their range for error messages.
trait Int: std::str::FromStr {
    const RANGE: &'static str;
}
impl Int for u16 {
    const RANGE: &'static str = "from 0 to 65535";
}
impl Int for u32 {
    const RANGE: &'static str = "from 0 to 4294967295";
}
impl Int for i64 {
    const RANGE: &'static str = "(64-bit signed)";
}

fn parse_num<T: Int>(value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("expected an integer {}", T::RANGE))
}

fn parse_u64(value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| "expected a non-negative integer".to_string())
}

/// A session timeout: -1 means "derive from tickTime".
fn parse_timeout(value: &str) -> Result<Option<u64>, String> {
    if value == "-1" {
        return Ok(None);
    }
    parse_u64(value).map(Some).map_err(|_| {
        "expected a non-negative number of milliseconds (or -1 for the default)".to_string()
    })
}

/// Java's `Integer.decode` forms without octal: decimal, `0x`/`0X`/`#` hex.
fn parse_decode(value: &str) -> Result<usize, String> {
    let hex = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .or_else(|| value.strip_prefix('#'));
    match hex {
        Some(digits) => usize::from_str_radix(digits, 16),
        None => value.parse(),
    }
    .map_err(|_| "expected a non-negative decimal or 0x-hex integer".to_string())
}

/// `true`/`false`/`yes`/`no`, any case: ZooKeeper uses true/false for most
/// switches and yes/no for `forceSync`.
fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" => Ok(true),
        "false" | "no" => Ok(false),
        _ => Err("expected true/false (or yes/no)".to_string()),
    }
}

fn parse_path(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        Err("expected a directory path".to_string())
    } else {
        Ok(PathBuf::from(value))
    }
}

#[cfg(test)]
mod tests;
