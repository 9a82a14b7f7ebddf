#![no_main]

use libfuzzer_sys::fuzz_target;

use gost_proto::socks5::Request as Msg;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((msg, n))) = Msg::decode(data) {
        assert!(n <= data.len());
        let mut out = Vec::new();
        msg.encode(&mut out).expect("a decoded message must encode");
        let again = Msg::decode(&out).expect("re-encoded message must decode");
        assert_eq!(again, Some((msg, out.len())));
    }
});
