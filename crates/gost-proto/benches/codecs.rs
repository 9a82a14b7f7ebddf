//! Micro-benchmarks of the codec paths the profile points at (docs/benchmarks.md): WebSocket
//! masking runs over every byte of ws/wss/mws/mwss traffic; the SOCKS5 and relay request decoders
//! run once per proxied connection. `cargo bench -p gost-proto`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use gost_proto::{relay, socks5, ws};

fn masking(c: &mut Criterion) {
    let mut data = vec![0u8; 32 * 1024];
    let mut group = c.benchmark_group("ws");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("apply_mask 32 KiB", |b| {
        b.iter(|| ws::apply_mask(black_box(&mut data), [0x37, 0xfa, 0x21, 0x3d], 1))
    });
    group.finish();
}

fn requests(c: &mut Criterion) {
    let socks =
        [5u8, 1, 0, 3, 11, b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm', 0, 80];
    c.bench_function("socks5 request decode", |b| {
        b.iter(|| socks5::Request::decode(black_box(&socks)).unwrap())
    });
    let relay_req = [
        1u8, 1, 0, 0x19, 1, 0, 4, 1, 0x75, 1, 0x70, 2, 0, 0x0f, 3, 0x0b, b'e', b'x', b'a', b'm',
        b'p', b'l', b'e', b'.', b'c', b'o', b'm', 0, 0x50,
    ];
    c.bench_function("relay request decode", |b| {
        b.iter(|| relay::Request::decode(black_box(&relay_req)).unwrap())
    });
}

criterion_group!(benches, masking, requests);
criterion_main!(benches);
