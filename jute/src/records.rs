//! Every fixed-shape record of `zookeeper.jute` (3.9), plus the ones the file
//! leaves to code: the handshake with its optional `readOnly` byte and
//! `WhoAmIResponse`.

use crate::codec::{DecodeError, Jute, Reader};

/// Declares a record whose encoding is its fields in order.
macro_rules! record {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }

        impl Jute for $name {
            #[allow(unused_variables)]
            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($name { $($field: <$ty as Jute>::read(r)?),* })
            }
            #[allow(unused_variables)]
            fn write(&self, out: &mut Vec<u8>) {
                $(self.$field.write(out);)*
            }
        }
    };
}

/// Lists `record!` declarations and registers each in `ALL_RECORD_NAMES`.
macro_rules! records {
    ($($(#[$m:meta])* $name:ident { $($body:tt)* })*) => {
        $(record!($(#[$m])* $name { $($body)* });)*
        /// Names of every declared fixed-shape record (for tests and docs).
        pub const ALL_RECORD_NAMES: &[&str] = &[$(stringify!($name)),*];
        #[cfg(test)]
        mod generated_round_trips {
            use super::*;
            proptest::proptest! {
                $(
                    #[allow(non_snake_case)]
                    #[test]
                    fn $name(v: $name) {
                        let bytes = crate::to_bytes(&v);
                        proptest::prop_assert_eq!(crate::from_bytes::<$name>(&bytes).unwrap(), v);
                    }
                )*
            }
        }
    };
}

records! {
    // org.apache.zookeeper.data
    /// An identity: a scheme and an id within it (`digest`, `user:hash`).
    Id { scheme: String, id: String }
    /// A permission mask granted to an identity.
    Acl { perms: i32, id: Id }
    /// The metadata clients see for a znode.
    Stat {
        czxid: i64, mzxid: i64, ctime: i64, mtime: i64, version: i32, cversion: i32,
        aversion: i32, ephemeral_owner: i64, data_length: i32, num_children: i32, pzxid: i64,
    }
    /// The metadata a server stores for a znode.
    StatPersisted {
        czxid: i64, mzxid: i64, ctime: i64, mtime: i64, version: i32, cversion: i32,
        aversion: i32, ephemeral_owner: i64, pzxid: i64,
    }

    // org.apache.zookeeper.proto
    /// Re-arms watches after a reconnect (opcode 101).
    SetWatches {
        relative_zxid: i64, data_watches: Vec<String>, exist_watches: Vec<String>,
        child_watches: Vec<String>,
    }
    /// Re-arms watches including persistent ones (opcode 105).
    SetWatches2 {
        relative_zxid: i64, data_watches: Vec<String>, exist_watches: Vec<String>,
        child_watches: Vec<String>, persistent_watches: Vec<String>,
        persistent_recursive_watches: Vec<String>,
    }
    /// Precedes every request: the client's sequence number and the opcode.
    RequestHeader { xid: i32, op: i32 }
    /// Precedes each operation of a multi request or response.
    MultiHeader { op: i32, done: bool, err: i32 }
    /// Adds credentials to the session (opcode 100).
    AuthPacket { auth_type: i32, scheme: String, auth: Option<Vec<u8>> }
    /// Precedes every reply and notification.
    ReplyHeader { xid: i32, zxid: i64, err: i32 }
    /// getData (4).
    GetDataRequest { path: String, watch: bool }
    /// setData (5).
    SetDataRequest { path: String, data: Option<Vec<u8>>, version: i32 }
    /// reconfig (16).
    ReconfigRequest {
        joining_servers: String, leaving_servers: String, new_members: String,
        cur_config_id: i64,
    }
    /// Reply to setData.
    SetDataResponse { stat: Stat }
    /// sasl (102) request.
    GetSaslRequest { token: Option<Vec<u8>> }
    /// sasl request as the C client names it.
    SetSaslRequest { token: Option<Vec<u8>> }
    /// sasl (102) reply.
    SetSaslResponse { token: Option<Vec<u8>> }
    /// create (1), create2 (15), createContainer (19).
    CreateRequest { path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, flags: i32 }
    /// createTTL (21).
    CreateTtlRequest {
        path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, flags: i32, ttl: i64,
    }
    /// delete (2).
    DeleteRequest { path: String, version: i32 }
    /// getChildren (8).
    GetChildrenRequest { path: String, watch: bool }
    /// getAllChildrenNumber (104).
    GetAllChildrenNumberRequest { path: String }
    /// Legacy: never sent by 3.x clients.
    GetStatPersistedRequest { path: String }
    /// getChildren2 (12).
    GetChildren2Request { path: String, watch: bool }
    /// check (13), only inside multi.
    CheckVersionRequest { path: String, version: i32 }
    /// Legacy.
    GetMaxChildrenRequest { path: String }
    /// Legacy.
    GetMaxChildrenResponse { max: i32 }
    /// Legacy.
    SetMaxChildrenRequest { path: String, max: i32 }
    /// sync (9).
    SyncRequest { path: String }
    /// Reply to sync.
    SyncResponse { path: String }
    /// getACL (6).
    GetAclRequest { path: String }
    /// setACL (7).
    SetAclRequest { path: String, acl: Vec<Acl>, version: i32 }
    /// Reply to setACL.
    SetAclResponse { stat: Stat }
    /// addWatch (106).
    AddWatchRequest { path: String, mode: i32 }
    /// A watch notification (sent with xid -1).
    WatcherEvent { event_type: i32, state: i32, path: String }
    /// A failed operation inside a multi response.
    ErrorResponse { err: i32 }
    /// Reply to create.
    CreateResponse { path: String }
    /// Reply to create2, createContainer and createTTL.
    Create2Response { path: String, stat: Stat }
    /// exists (3).
    ExistsRequest { path: String, watch: bool }
    /// Reply to exists.
    ExistsResponse { stat: Stat }
    /// Reply to getData.
    GetDataResponse { data: Option<Vec<u8>>, stat: Stat }
    /// Reply to getChildren.
    GetChildrenResponse { children: Vec<String> }
    /// Reply to getAllChildrenNumber.
    GetAllChildrenNumberResponse { total_number: i32 }
    /// Legacy reply.
    GetStatPersistedResponse { stat_persisted: StatPersisted }
    /// Reply to getChildren2.
    GetChildren2Response { children: Vec<String>, stat: Stat }
    /// Reply to getACL.
    GetAclResponse { acl: Vec<Acl>, stat: Stat }
    /// checkWatches (17).
    CheckWatchesRequest { path: String, watcher_type: i32 }
    /// removeWatches (18).
    RemoveWatchesRequest { path: String, watcher_type: i32 }
    /// getEphemerals (103).
    GetEphemeralsRequest { prefix_path: String }
    /// Reply to getEphemerals.
    GetEphemeralsResponse { ephemerals: Vec<String> }
    /// One identity in a whoAmI reply.
    ClientInfo { auth_scheme: String, user: String }
    /// Reply to whoAmI (107).
    WhoAmIResponse { client_info: Vec<ClientInfo> }

    // org.apache.zookeeper.server.quorum
    /// Identifies a learner to its leader.
    LearnerInfo { server_id: i64, protocol_version: i32, config_version: i64 }
    /// The envelope of ZooKeeper's peer protocol.
    QuorumPacket { packet_type: i32, zxid: i64, data: Option<Vec<u8>>, auth_info: Vec<Id> }
    /// Quorum SASL exchange.
    QuorumAuthPacket { magic: i64, status: i32, token: Option<Vec<u8>> }

    // org.apache.zookeeper.server.persistence
    /// The header of ZooKeeper's log and snapshot files.
    FileHeader { magic: i32, version: i32, dbid: i64 }

    // org.apache.zookeeper.txn
    /// A digest of the tree after a txn.
    TxnDigest { version: i32, tree_digest: i64 }
    /// Precedes every txn: who sent it, its zxid, when and what type.
    TxnHeader { client_id: i64, cxid: i32, zxid: i64, time: i64, txn_type: i32 }
    /// Pre-3.4 create txn.
    CreateTxnV0 { path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, ephemeral: bool }
    /// Creates a znode; parentCVersion is the parent's new cversion.
    CreateTxn {
        path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, ephemeral: bool,
        parent_cversion: i32,
    }
    /// Creates a TTL znode.
    CreateTtlTxn {
        path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, parent_cversion: i32, ttl: i64,
    }
    /// Creates a container znode.
    CreateContainerTxn {
        path: String, data: Option<Vec<u8>>, acl: Vec<Acl>, parent_cversion: i32,
    }
    /// Deletes a znode.
    DeleteTxn { path: String }
    /// Replaces a znode's data; version is the new version.
    SetDataTxn { path: String, data: Option<Vec<u8>>, version: i32 }
    /// A version check inside a multi.
    CheckVersionTxn { path: String, version: i32 }
    /// Replaces a znode's ACL; version is the new aversion.
    SetAclTxn { path: String, acl: Vec<Acl>, version: i32 }
    /// Legacy.
    SetMaxChildrenTxn { path: String, max: i32 }
    /// Opens a session with the negotiated timeout.
    CreateSessionTxn { time_out: i32 }
    /// Closes a session, listing the ephemerals it deletes.
    CloseSessionTxn { paths_to_delete: Vec<String> }
    /// A failed write (still logged, so it consumes a zxid).
    ErrorTxn { err: i32 }
    /// One sub-txn of a multi: its type and encoded record.
    Txn { txn_type: i32, data: Option<Vec<u8>> }
    /// The sub-txns of a multi, applied atomically.
    MultiTxn { txns: Vec<Txn> }
}

/// The client's handshake. Clients before 3.4 omit the trailing `readOnly`
/// byte; a server must accept both and answer in the same shape.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Option<Vec<u8>>,
    /// `None` when the client did not send the byte.
    pub read_only: Option<bool>,
}

impl Jute for ConnectRequest {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?,
            read_only: if r.remaining() > 0 {
                Some(r.read_bool()?)
            } else {
                None
            },
        })
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.protocol_version.write(out);
        self.last_zxid_seen.write(out);
        self.time_out.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(ro) = self.read_only {
            ro.write(out);
        }
    }
}

/// The server's handshake reply; `read_only` is present exactly when the
/// request carried it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Option<Vec<u8>>,
    pub read_only: Option<bool>,
}

impl Jute for ConnectResponse {
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?,
            read_only: if r.remaining() > 0 {
                Some(r.read_bool()?)
            } else {
                None
            },
        })
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.protocol_version.write(out);
        self.time_out.write(out);
        self.session_id.write(out);
        self.passwd.write(out);
        if let Some(ro) = self.read_only {
            ro.write(out);
        }
    }
}
