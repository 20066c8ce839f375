//! Arbitrary bytes into the event-stream frame decoder (the Greengrass IPC socket's parser).
//!
//! The first input byte picks the mode: its low bit says whether to repair the CRCs of the
//! frames in the rest of the input first (random bytes almost never carry valid CRCs, so
//! without this the fuzzer would rarely get past the checksums into the header parser); the
//! other bits pick a point where the input is split, so frames also arrive in two pieces.
//! Every frame that decodes must re-encode to exactly the bytes it came from, and must go
//! through the RPC layer without panicking.

#![no_main]

use lambdalet_ipc::frame::{Decoder, encode};
use lambdalet_ipc::rpc::{ConnectRequest, RpcMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut input = rest.to_vec();
    if mode & 1 == 1 {
        repair_crcs(&mut input);
    }
    let split = usize::from(mode >> 1).min(input.len());

    let mut decoder = Decoder::with_max_message(256 * 1024);
    let mut buf = bytes::BytesMut::new();
    let mut consumed = 0usize;
    for piece in [&input[..split], &input[split..]] {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match decoder.decode(&mut buf) {
                Ok(Some(message)) => {
                    let frame_len = before - buf.len();
                    let original = &input[consumed..consumed + frame_len];
                    consumed += frame_len;
                    let reencoded = encode(&message).expect("a decoded message re-encodes");
                    assert_eq!(&reencoded[..], original, "round trip changed the frame");
                    check_rpc(message);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});

/// The RPC view of a frame must rebuild into an equal RPC message.
fn check_rpc(message: lambdalet_ipc::frame::Message) {
    if let Ok(rpc) = RpcMessage::from_message(message) {
        let _ = ConnectRequest::from_rpc(&rpc);
        let again = RpcMessage::from_message(rpc.clone().into_message());
        assert_eq!(again.as_ref().ok(), Some(&rpc), "rpc round trip changed");
    }
}

/// Overwrite the prelude and message CRCs of each frame the declared lengths delimit.
fn repair_crcs(input: &mut [u8]) {
    let mut pos = 0usize;
    while let Some(prelude) = input.get(pos..pos + 12) {
        let total = u32::from_be_bytes([prelude[0], prelude[1], prelude[2], prelude[3]]) as usize;
        let crc = crc32fast::hash(&prelude[..8]);
        input[pos + 8..pos + 12].copy_from_slice(&crc.to_be_bytes());
        if total < 16 || input.len() - pos < total {
            return;
        }
        let end = pos + total - 4;
        let crc = crc32fast::hash(&input[pos..end]);
        input[end..end + 4].copy_from_slice(&crc.to_be_bytes());
        pos += total;
    }
}
