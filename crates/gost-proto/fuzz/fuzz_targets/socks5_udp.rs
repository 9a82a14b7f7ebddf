#![no_main]

use libfuzzer_sys::fuzz_target;

use gost_proto::socks5::UdpHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok((header, offset)) = UdpHeader::decode(data) {
        assert!(offset <= data.len());
        let mut out = Vec::new();
        header.encode(&mut out).expect("a decoded header must encode");
        let again = UdpHeader::decode(&out).expect("re-encoded header must decode");
        assert_eq!(again, (header, out.len()));
    }
});
