#![no_main]

use libfuzzer_sys::fuzz_target;

use gost_proto::relay::Response as Msg;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((msg, n))) = Msg::decode(data) {
        assert!(n <= data.len());
        let mut out = Vec::new();
        // Short (16-byte) tunnel ids are zero-padded to 20 bytes on decode, so a feature list
        // close to the 65535-byte limit may legitimately no longer fit.
        if msg.encode(&mut out).is_err() {
            return;
        }
        let again = Msg::decode(&out).expect("re-encoded message must decode");
        assert_eq!(again, Some((msg, out.len())));
    }
});
