//! The deterministic core: every decision corral makes about the data, with
//! no I/O.
//!
//! Architecture invariant: nothing under `core` uses tokio, `std::fs`,
//! `std::net`, threads or the system clock. Time comes in as `now_ms`
//! arguments, bytes come in as slices and go out as `Vec<u8>`. This is what
//! lets a simulator drive whole ensembles from a seed. `tests/core_purity.rs`
//! and the `--no-default-features` build check it.

pub mod acl;
pub mod forward;
pub mod image;
pub mod path;
pub mod prep;
pub mod server;
pub mod sessions;
pub mod stats;
pub mod tree;
pub mod txn;
pub mod watches;
pub mod zab;

#[cfg(test)]
mod ensemble_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod server_tests;

/// A ZooKeeper transaction id: `epoch << 32 | counter`.
pub type Zxid = i64;
/// A session id: the server id in the top byte, then a time-seeded counter.
pub type SessionId = i64;
/// Identifies one client connection for the lifetime of the process.
pub type ConnId = u64;
