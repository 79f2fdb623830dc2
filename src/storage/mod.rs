//! Where txns go to become durable.
//!
//! The server's write pipeline hands every batch of prepped txns to a
//! [`TxnLog`] and releases replies only up to the zxid the log reports as
//! durable. This log is in memory ([`MemoryLog`]): it acknowledges at
//! once and keeps nothing across restarts. The on-disk log replaces it
//! behind the same trait.

use crate::core::txn::Txn;
use crate::core::Zxid;

/// An append-only sink for txns in zxid order.
pub trait TxnLog: Send {
    /// Appends a batch; returns the highest zxid now durable.
    fn append(&mut self, txns: Vec<Txn>) -> std::io::Result<Zxid>;
    /// Number of txns appended since start (for metrics).
    fn appended(&self) -> u64;
}

/// A log that holds nothing: every txn is "durable" as soon as it arrives.
#[derive(Debug, Default)]
pub struct MemoryLog {
    appended: u64,
    last: Zxid,
}

impl TxnLog for MemoryLog {
    fn append(&mut self, txns: Vec<Txn>) -> std::io::Result<Zxid> {
        self.appended += txns.len() as u64;
        if let Some(t) = txns.last() {
            self.last = t.zxid;
        }
        Ok(self.last)
    }

    fn appended(&self) -> u64 {
        self.appended
    }
}
