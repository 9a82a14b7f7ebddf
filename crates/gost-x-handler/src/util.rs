//! Pieces every proxy handler shares.

use std::net::SocketAddr;
use std::time::Duration;

use gost_core::io::{Read, Write, read_decoded, recv_from, send_to, write_all};
use gost_core::{
    Address, Auther, BoxAuther, BoxBypass, BoxPacketConn, Bypass, Error, ErrorKind, Metadata,
    Network, Result, Session,
};
use gost_proto::udp_tun::FrameHeader;

/// gost's default deadline for reading a proxy handshake (`readTimeout`).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// gost 3.3's `idleTimeout`: a relayed connection that moves nothing either way for this long is
/// closed (none by default).
pub fn idle_timeout(md: &Metadata) -> Result<Option<Duration>> {
    Ok(md.get_duration(&["idleTimeout", "idle_timeout"])?.filter(|d| !d.is_zero()))
}

/// The handshake deadline from `readTimeout` (0 = the default, as gost treats it).
pub fn read_timeout(md: &Metadata) -> Result<Duration> {
    Ok(md
        .get_duration(&["readTimeout", "read_timeout"])?
        .filter(|t| !t.is_zero())
        .unwrap_or(DEFAULT_READ_TIMEOUT))
}

/// Whether the credentials are accepted (always, when the service has no auther).
pub async fn authenticate(
    auther: Option<&BoxAuther>,
    user: &str,
    password: &str,
    client: Option<SocketAddr>,
) -> bool {
    match auther {
        None => true,
        Some(a) => a.authenticate(user.to_owned(), password.to_owned(), client).await.is_some(),
    }
}

/// Whether the service's bypass refuses `target`.
pub async fn bypassed(bypass: Option<&BoxBypass>, network: Network, target: &Address) -> bool {
    match bypass {
        None => false,
        Some(b) => b.contains(network, target.clone()).await,
    }
}

/// A UDP-tun frame is a header (at most 262 bytes) and up to 65535 bytes of payload.
const MAX_TUN_FRAME: usize = 262 + 65535;

/// Decodes a frame header once its whole payload is buffered too; consumes only the header, so
/// the payload is the front of the buffer afterwards (no copy per datagram).
fn decode_tun_frame(b: &[u8]) -> Result<Option<(FrameHeader, usize)>> {
    let Some((header, used)) = FrameHeader::decode(b)? else { return Ok(None) };
    let complete = b.len() >= used + usize::from(header.len);
    Ok(complete.then_some((header, used)))
}

/// gost's UDP over a stream (SOCKS5 UDP-over-TCP, relay UDP, ssu over TCP): each datagram is a
/// UDP-tun frame on `conn` naming its destination (from the client; `buf` holds bytes read
/// already) or its source (back), relayed through `outbound` until the client closes. A
/// datagram the bypass refuses or that cannot be sent is dropped, as UDP drops.
pub async fn relay_udp_tun<C: Read + Write + Unpin + ?Sized>(
    conn: &mut C,
    buf: &mut Vec<u8>,
    outbound: &mut BoxPacketConn,
    bypass: Option<&BoxBypass>,
    buffer_size: usize,
    session: &Session,
) -> Result<()> {
    let mut from_target = vec![0u8; buffer_size];
    let mut frame = Vec::with_capacity(buffer_size + 262);
    loop {
        tokio::select! {
            got = read_decoded(conn, buf, MAX_TUN_FRAME, decode_tun_frame) => {
                let header = match got {
                    Ok(h) => h,
                    Err(e) if e.kind() == ErrorKind::Closed && buf.is_empty() => return Ok(()),
                    Err(e) => return Err(e),
                };
                let len = usize::from(header.len).min(buf.len());
                if !bypassed(bypass, Network::Udp, &header.addr).await
                    && let Err(e) = send_to(outbound, &buf[..len], &header.addr).await
                {
                    tracing::debug!(sid = session.id, to = %header.addr, "udp send: {e}");
                }
                buf.drain(..len);
            }
            got = recv_from(outbound, &mut from_target) => {
                let (n, from) = got.map_err(Error::from)?;
                frame.clear();
                let len = u16::try_from(n).unwrap_or(u16::MAX);
                FrameHeader { len, addr: from }.encode(&mut frame)?;
                frame.extend_from_slice(from_target.get(..n).unwrap_or(&[]));
                write_all(conn, &frame).await?;
            }
        }
    }
}
