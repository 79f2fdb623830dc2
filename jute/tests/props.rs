//! Decoding arbitrary bytes never panics.

use jute::multi::{MultiRequest, MultiResponse};
use jute::*;
use proptest::prelude::*;

fn decode_all(bytes: &[u8]) {
    let _ = from_bytes::<ConnectRequest>(bytes);
    let _ = from_bytes::<ConnectResponse>(bytes);
    let _ = from_bytes::<RequestHeader>(bytes);
    let _ = from_bytes::<CreateRequest>(bytes);
    let _ = from_bytes::<CreateTtlRequest>(bytes);
    let _ = from_bytes::<SetWatches2>(bytes);
    let _ = from_bytes::<GetAclResponse>(bytes);
    let _ = from_bytes::<MultiRequest>(bytes);
    let _ = from_bytes::<MultiResponse>(bytes);
    let _ = from_bytes::<MultiTxn>(bytes);
    let _ = from_bytes::<TxnHeader>(bytes);
    let _ = from_bytes::<WhoAmIResponse>(bytes);
    let _ = from_bytes::<QuorumPacket>(bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }
}
