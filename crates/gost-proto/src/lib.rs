//! Sans-I/O wire codecs for the protocols gost speaks: SOCKS4/4a, SOCKS5 (with gost's
//! extensions), gost's UDP-over-TCP ("UDP-tun") framing, the gost relay protocol and HTTP/1.x
//! proxy heads.
//!
//! Nothing in this crate reads or writes a socket. Every message type follows one contract:
//!
//! * `fn decode(buf: &[u8]) -> Result<Option<(Msg, usize)>>` parses a message from the *front* of
//!   `buf`, a byte stream received so far:
//!   * `Ok(None)`: `buf` is a proper prefix of a message, read more bytes and call again with the
//!     whole buffer (decoders are stateless and never consume a partial message);
//!   * `Ok(Some((msg, n)))`: one message was parsed from the first `n` bytes; whatever follows
//!     (payload, the next message) is untouched and belongs to the caller;
//!   * `Err(e)` with [`gost_core::ErrorKind::Protocol`]: the bytes can never form a valid message
//!     (bad version, unknown address type, oversized field, non-UTF-8 domain name...). The caller
//!     should stop reading; whether it answers before closing is protocol policy, not a codec
//!     concern.
//! * `fn encode(&self, out: &mut Vec<u8>)` appends the wire form to `out`. Messages that carry an
//!   address or length-limited fields return `Result<()>` instead, failing (with `out` left as it
//!   was) when a field does not fit its length prefix; the rest cannot fail.
//!
//! Datagram formats (the SOCKS5 UDP header) are the exception: a datagram is always complete, so
//! their decoders return `Result<(Msg, usize)>` and a short datagram is an error.
//!
//! Decoders never panic and never allocate per byte, whatever the input; every decoder has a fuzz
//! target under `fuzz/` that checks decode → encode → decode stability.
//!
//! The byte layouts follow the project's wire-protocol reference, protocols.md (sections 3, 5,
//! 6, 11.2 and 11.3), which records what the Go implementation puts on the wire.

#![forbid(unsafe_code)]

pub mod addr;
pub mod dns;
pub mod grpc;
pub mod http;
pub mod relay;
pub mod socks4;
pub mod socks5;
pub mod tls;
pub mod tunnel_id;
pub mod udp_tun;

/// What the next bytes of a streamed body are, for the streaming decoders
/// ([`grpc::ChunkDecoder`], [`http::ChunkedDecoder`]), which hand data out as it arrives
/// instead of buffering whole messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next `n` bytes are framing (consume them).
    Framing(usize),
    /// The next `n` bytes are data (hand them out, then consume them).
    Data(usize),
}
pub mod ws;

/// A deterministic, stable-toolchain stand-in for the cargo-fuzz targets: mutates valid
/// encodings and random bytes, and checks that every decoder either rejects the input, asks for
/// more, or yields a message that survives encode → decode unchanged.
#[cfg(test)]
mod fuzz_smoke {
    use gost_core::Result;

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..=rng.below(4) {
            match rng.below(5) {
                0 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] = rng.next() as u8;
                }
                1 if !v.is_empty() => {
                    let i = rng.below(v.len());
                    v[i] ^= 1 << rng.below(8);
                }
                2 => v.truncate(rng.below(v.len() + 1)),
                3 => {
                    let i = rng.below(v.len() + 1);
                    v.insert(i, rng.next() as u8);
                }
                _ => v.extend((0..rng.below(8)).map(|_| rng.next() as u8)),
            }
        }
        v
    }

    fn run<T: std::fmt::Debug + PartialEq>(
        seeds: &[Vec<u8>],
        decode: impl Fn(&[u8]) -> Result<Option<(T, usize)>>,
        encode: impl Fn(&T, &mut Vec<u8>),
    ) {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut accepted = 0;
        for i in 0..20_000 {
            let input = if i % 10 == 0 {
                (0..rng.below(64)).map(|_| rng.next() as u8).collect()
            } else {
                let seed = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, seed)
            };
            if let Ok(Some((msg, n))) = decode(&input) {
                assert!(n <= input.len());
                let mut out = Vec::new();
                encode(&msg, &mut out);
                let again = decode(&out).unwrap_or_else(|e| panic!("{msg:?} → {out:?}: {e}"));
                assert_eq!(again, Some((msg, out.len())), "input {input:?}");
                accepted += 1;
            }
        }
        assert!(accepted > 0, "no mutated input was accepted");
    }

    fn enc<T>(f: impl Fn(&T, &mut Vec<u8>) -> Result<()>) -> impl Fn(&T, &mut Vec<u8>) {
        move |m, out| f(m, out).unwrap()
    }

    #[test]
    fn socks() {
        use crate::{socks4, socks5};
        let mut s5 = vec![vec![5, 2, 0, 2]];
        run(&s5, socks5::Greeting::decode, socks5::Greeting::encode);
        run(&[vec![5, 0]], socks5::MethodSelection::decode, socks5::MethodSelection::encode);
        run(&[vec![1, 0]], socks5::UserPassReply::decode, socks5::UserPassReply::encode);
        run(
            &[vec![1, 1, b'u', 2, b'p', b'w']],
            socks5::UserPassRequest::decode,
            enc(socks5::UserPassRequest::encode),
        );
        s5 = vec![
            vec![5, 1, 0, 1, 1, 2, 3, 4, 0, 80],
            vec![5, 1, 0, 3, 3, b'a', b'b', b'c', 0, 80],
            [&[5, 3, 0, 4][..], &[0; 18]].concat(),
        ];
        run(&s5, socks5::Request::decode, enc(socks5::Request::encode));
        run(&s5, socks5::Reply::decode, enc(socks5::Reply::encode));
        let udp: Vec<Vec<u8>> = s5.iter().map(|s| [&[0, 4, 0xFF][..], &s[3..]].concat()).collect();
        run(&udp, crate::udp_tun::FrameHeader::decode, enc(crate::udp_tun::FrameHeader::encode));
        run(
            &udp,
            |b| crate::socks5::UdpHeader::decode(b).map(Some),
            enc(socks5::UdpHeader::encode),
        );
        let s4 = vec![
            b"\x04\x01\x00\x50\x01\x02\x03\x04id\x00".to_vec(),
            b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00".to_vec(),
        ];
        run(&s4, socks4::Request::decode, socks4::Request::encode);
        run(&[vec![0, 90, 0, 0, 0, 0, 0, 0]], socks4::Reply::decode, socks4::Reply::encode);
    }

    #[test]
    fn relay() {
        use crate::relay::{Request, Response};
        let seeds = vec![
            b"\x01\x01\x00\x19\x01\x00\x04\x01u\x01p\x02\x00\x0f\x03\x0bexample.com\x00\x50"
                .to_vec(),
            vec![1, 0, 0, 0],
            [
                &[1, 0x82, 0, 36, 4, 0, 2, 0, 1, 3, 0, 20][..],
                &[7; 20],
                &[2, 0, 7, 1, 0, 0, 0, 0, 0, 0],
            ]
            .concat(),
        ];
        run(&seeds, Request::decode, enc(Request::encode));
        run(&seeds, Response::decode, enc(Response::encode));
    }

    #[test]
    fn http() {
        use crate::http::{RequestHead, ResponseHead};
        let req = vec![
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n".to_vec(),
            b"GET http://a/ HTTP/1.0\r\nX: \t y \r\n\r\n".to_vec(),
        ];
        run(&req, RequestHead::decode, RequestHead::encode);
        let resp = vec![
            b"HTTP/1.1 200 Connection established\r\nProxy-Agent: gost/3.0\r\n\r\n".to_vec(),
            b"HTTP/1.0 407\r\nProxy-Authenticate: Basic realm=\"gost\"\r\n\r\n".to_vec(),
        ];
        run(&resp, ResponseHead::decode, ResponseHead::encode);
    }
}
