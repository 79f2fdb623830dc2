//! Durability: where txns go before anyone may see them.
//!
//! The server's write pipeline hands every batch of prepped txns to the
//! [`txlog::TxLog`] and releases replies only up to the zxid the log reports
//! durable. Group commit (one fdatasync for every txn that arrived while the
//! previous one ran) lives in the shell's committer thread.
//!
//! Architecture invariant: only `storage` touches data files; it never
//! spawns threads or tasks and knows nothing of tokio.

#[cfg(feature = "shell")]
pub mod snapshot;
pub mod txlog;
