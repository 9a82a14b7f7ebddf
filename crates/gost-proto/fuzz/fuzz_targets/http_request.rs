#![no_main]

use libfuzzer_sys::fuzz_target;

use gost_proto::http::RequestHead as Msg;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((msg, n))) = Msg::decode(data) {
        assert!(n <= data.len());
        let mut out = Vec::new();
        msg.encode(&mut out);
        // Re-encoding normalises line endings and spacing and may grow a head past MAX_HEAD.
        if out.len() > gost_proto::http::MAX_HEAD {
            return;
        }
        let again = Msg::decode(&out).expect("re-encoded message must decode");
        assert_eq!(again, Some((msg, out.len())));
    }
});
