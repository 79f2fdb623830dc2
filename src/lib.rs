//! corral: a ZooKeeper-compatible coordination service.
//!
//! Two halves (see `docs/architecture.md`):
//! - [`core`]: deterministic state machines (data tree, sessions, watches,
//!   request preparation). No tokio, no files, no sockets, no clock: time and
//!   bytes come in as arguments, replies and txns go out as values.
//! - `shell` (feature `shell`, on by default): the tokio server that owns the
//!   sockets and timers and feeds the core.

pub mod core;
pub mod sim;
pub mod storage;

#[cfg(feature = "shell")]
pub mod bench;
#[cfg(feature = "shell")]
pub mod config;
#[cfg(feature = "shell")]
pub mod shell;
#[cfg(feature = "shell")]
pub mod tools;
