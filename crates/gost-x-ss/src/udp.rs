//! Both ends of a shadowsocks UDP relay over either framing: AEAD datagrams ([`crate::seal_packet`])
//! or Shadowsocks 2022's (sessions, packet ids, a replay window; [`crate::seal_request`]).
//! Sans-I/O: datagrams are opened in and sealed into caller buffers.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gost_core::{Address, Error, ErrorKind, Result};

use crate::packet2022::{open_request, open_response, seal_request, seal_response};
use crate::{Cipher, ReplayWindow, open_packet, seal_packet};

/// Where a server's answer goes: the 2022 client session it answers (none for AEAD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyTo(Option<u64>);

/// A shadowsocks UDP server's view of its clients' datagrams. Clones share the 2022 sessions,
/// so a datagram replayed from another address (or another port) is still refused.
#[derive(Clone)]
pub struct UdpServer {
    cipher: Cipher,
    sessions: Arc<Mutex<Sessions>>,
    /// AEAD: answers carry their source address (SIP004), or not (Go gost 3.3's ssu).
    answer_addr: bool,
}

/// 2022 client sessions by id: kept while active and [`SESSION_IDLE`] after, so that their
/// packets are refused as replays for longer than a timestamp stays valid (30 s).
struct Sessions {
    by_id: HashMap<u64, ServerSession>,
    limit: usize,
}

struct ServerSession {
    /// This server's id for its answers, and the next answer's packet id.
    answer_id: u64,
    next_packet: u64,
    window: ReplayWindow,
    user: Option<usize>,
    /// The subkey byte order the client uses (see [`crate::Opened2022::standard`]).
    standard: bool,
    last: Instant,
}

/// How long a quiet 2022 session is remembered (Go: its UDP timeout, a minute).
pub const SESSION_IDLE: Duration = Duration::from_secs(60);
/// The 2022 sessions a server keeps at most (about 300 bytes each): a new one past this is
/// refused until old ones expire. Only key holders can open sessions.
pub const MAX_SESSIONS: usize = 65536;

impl UdpServer {
    /// A server with `cipher` (and its users, for 2022).
    pub fn new(cipher: Cipher) -> UdpServer {
        UdpServer::with_limit(cipher, MAX_SESSIONS)
    }

    fn with_limit(cipher: Cipher, limit: usize) -> UdpServer {
        let sessions = Sessions { by_id: HashMap::new(), limit };
        UdpServer { cipher, sessions: Arc::new(Mutex::new(sessions)), answer_addr: true }
    }

    /// AEAD answers without their source address, as Go gost 3.3's ssu server sends them and
    /// its client expects (SIP004 and shadowsocks-libev put it in; 2022 always has it).
    pub fn without_answer_addr(mut self) -> UdpServer {
        self.answer_addr = false;
        self
    }

    /// The cipher.
    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// Opens a client's datagram in place: its target, where its payload is, and where an
    /// answer goes. A datagram that does not open, or (2022) a replay, is an error.
    pub fn open(&self, datagram: &mut [u8]) -> Result<(Address, Range<usize>, ReplyTo)> {
        if !self.cipher.method().is_2022() {
            let (addr, payload) = open_packet(&self.cipher, datagram)?;
            return Ok((addr, payload, ReplyTo(None)));
        }
        let opened = open_request(&self.cipher, datagram, |id| {
            let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.by_id.get(&id).map(|s| s.standard)
        })?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if !sessions.by_id.contains_key(&opened.session_id) {
            if sessions.by_id.len() >= sessions.limit {
                sessions.by_id.retain(|_, s| now.duration_since(s.last) < SESSION_IDLE);
            }
            if sessions.by_id.len() >= sessions.limit {
                return Err(Error::new(ErrorKind::Denied, "shadowsocks 2022: too many sessions"));
            }
            let mut id = [0u8; 8];
            crate::random(&mut id)?;
            sessions.by_id.insert(
                opened.session_id,
                ServerSession {
                    answer_id: u64::from_be_bytes(id),
                    next_packet: 0,
                    window: ReplayWindow::default(),
                    user: opened.user,
                    standard: opened.standard,
                    last: now,
                },
            );
        }
        let session = sessions
            .by_id
            .get_mut(&opened.session_id)
            .ok_or_else(|| Error::protocol("shadowsocks 2022: no session"))?;
        if session.user != opened.user {
            return Err(Error::protocol("shadowsocks 2022: a session changed its user"));
        }
        if !session.window.accept(opened.packet_id) {
            return Err(Error::protocol("shadowsocks 2022: a replayed or too old packet"));
        }
        session.last = now;
        Ok((opened.addr, opened.payload, ReplyTo(Some(opened.session_id))))
    }

    /// Appends the datagram answering `to` with `payload` from `source`.
    pub fn seal(
        &self,
        to: ReplyTo,
        source: &Address,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(client_session) = to.0 else {
            if !self.answer_addr {
                return seal_bare(&self.cipher, payload, out);
            }
            return seal_packet(&self.cipher, source, payload, out);
        };
        let ids = {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            let s = sessions
                .by_id
                .get_mut(&client_session)
                .ok_or_else(|| Error::protocol("shadowsocks 2022: the session expired"))?;
            s.next_packet += 1;
            (s.answer_id, s.next_packet - 1, s.user, s.standard)
        };
        let (answer_id, packet, user, standard) = ids;
        seal_response(
            &self.cipher,
            standard,
            user,
            answer_id,
            packet,
            client_session,
            source,
            payload,
            out,
        )
    }
}

/// A shadowsocks UDP client: seals datagrams to targets and opens the server's answers. With
/// 2022 each client is one session (a random id, packet ids from 0).
pub struct UdpClient {
    cipher: Cipher,
    session_id: u64,
    next_packet: u64,
    /// The server sessions heard from (the current one first, then the one before it), with
    /// their packet ids seen: a replay of the previous session's answers is refused too.
    server: [Option<(u64, ReplayWindow)>; 2],
    /// AEAD answers without an address (Go gost 3.3's ssu server): they are taken as from the
    /// last target sent to, as Go's client takes them.
    bare_answers: Option<Address>,
}

impl UdpClient {
    /// A client with `cipher`.
    pub fn new(cipher: Cipher) -> Result<UdpClient> {
        let mut id = [0u8; 8];
        crate::random(&mut id)?;
        Ok(UdpClient {
            cipher,
            session_id: u64::from_be_bytes(id),
            next_packet: 0,
            server: [None, None],
            bare_answers: None,
        })
    }

    /// Takes AEAD answers without their source address (a Go gost 3.3 ssu server's).
    pub fn without_answer_addr(mut self) -> UdpClient {
        if !self.cipher.method().is_2022() {
            self.bare_answers = Some(Address::Ip(std::net::SocketAddr::from(([0, 0, 0, 0], 0))));
        }
        self
    }

    /// Appends the datagram carrying `payload` to `target`.
    pub fn seal(&mut self, target: &Address, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if !self.cipher.method().is_2022() {
            if let Some(last) = &mut self.bare_answers
                && last != target
            {
                *last = target.clone();
            }
            return seal_packet(&self.cipher, target, payload, out);
        }
        self.next_packet += 1;
        seal_request(&self.cipher, self.session_id, self.next_packet - 1, target, payload, out)
    }

    /// Opens a server's datagram in place: its source and where its payload is. One that does
    /// not open, answers another session, or (2022) repeats a packet is an error.
    pub fn open(&mut self, datagram: &mut [u8]) -> Result<(Address, Range<usize>)> {
        if !self.cipher.method().is_2022() {
            if let Some(from) = &self.bare_answers {
                return Ok((from.clone(), open_bare(&self.cipher, datagram)?));
            }
            return open_packet(&self.cipher, datagram);
        }
        let opened = open_response(&self.cipher, datagram)?;
        if opened.client_session_id != self.session_id {
            return Err(Error::protocol("shadowsocks 2022: an answer to another session"));
        }
        let known = self
            .server
            .iter()
            .position(|s| s.as_ref().is_some_and(|(id, _)| *id == opened.session_id));
        let slot = match known {
            Some(i) => i,
            None => {
                // A new server session (the server restarted, or the first answer): the current
                // one becomes the previous one.
                self.server.swap(0, 1);
                self.server[0] = Some((opened.session_id, ReplayWindow::default()));
                0
            }
        };
        let Some((_, window)) = self.server[slot].as_mut() else {
            return Err(Error::protocol("shadowsocks 2022: no server session"));
        };
        if !window.accept(opened.packet_id) {
            return Err(Error::protocol("shadowsocks 2022: a replayed answer"));
        }
        Ok((opened.addr, opened.payload))
    }
}

/// An AEAD datagram without an address: `salt | seal(payload)`.
fn seal_bare(cipher: &Cipher, payload: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let salt_start = out.len();
    out.resize(salt_start + cipher.salt_len(), 0);
    crate::random(&mut out[salt_start..])?;
    let mut sealer = cipher.sealer(&out[salt_start..])?;
    let start = out.len();
    out.extend_from_slice(payload);
    sealer.seal(out, start)
}

/// Opens an AEAD datagram without an address in place: where its payload is.
fn open_bare(cipher: &Cipher, datagram: &mut [u8]) -> Result<Range<usize>> {
    let salt_len = cipher.salt_len();
    if datagram.len() < salt_len + cipher.method().tag_len() {
        return Err(Error::protocol("shadowsocks: a datagram too short"));
    }
    let (salt, sealed) = datagram.split_at_mut(salt_len);
    let n = cipher.opener(salt)?.open(sealed)?;
    Ok(salt_len..salt_len + n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(method: &str, password: &str) {
        let cipher = Cipher::new(method, password, None).unwrap();
        let server = UdpServer::new(cipher.clone());
        let mut client = UdpClient::new(cipher).unwrap();
        let target = Address::Ip("127.0.0.1:7".parse().unwrap());
        for i in 0..3u8 {
            let mut d = Vec::new();
            client.seal(&target, &[i; 5], &mut d).unwrap();
            let recorded = d.clone();
            let (to, payload, reply) = server.open(&mut d).unwrap();
            assert_eq!((&to, &d[payload]), (&target, &[i; 5][..]));
            if cipher_is_2022(method) {
                // The same datagram again (from anywhere: clones share sessions) is a replay.
                assert!(server.clone().open(&mut recorded.clone()).is_err(), "{method}");
            }
            let mut answer = Vec::new();
            server.seal(reply, &target, &[i; 2], &mut answer).unwrap();
            let again = answer.clone();
            let (from, payload) = client.open(&mut answer).unwrap();
            assert_eq!((&from, &answer[payload]), (&target, &[i; 2][..]));
            if cipher_is_2022(method) {
                assert!(client.open(&mut again.clone()).is_err(), "{method}: a repeated answer");
            }
        }
    }

    fn cipher_is_2022(method: &str) -> bool {
        method.starts_with("2022")
    }

    #[test]
    fn aead_and_2022_datagrams_both_ways() {
        round_trip("aes-256-gcm", "pw");
        round_trip("chacha20-ietf-poly1305", "pw");
        round_trip("2022-blake3-aes-128-gcm", "AAAAAAAAAAAAAAAAAAAAAA==");
        round_trip("2022-blake3-aes-256-gcm", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        round_trip("2022-blake3-chacha20-poly1305", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    }

    #[test]
    fn answers_of_the_previous_server_session_are_not_taken_twice() {
        let cipher =
            Cipher::new("2022-blake3-aes-128-gcm", "AAAAAAAAAAAAAAAAAAAAAA==", None).unwrap();
        let mut client = UdpClient::new(cipher.clone()).unwrap();
        let target = Address::Ip("127.0.0.1:7".parse().unwrap());
        let mut d = Vec::new();
        client.seal(&target, b"q", &mut d).unwrap();
        // Two servers (a restart): an answer from each, then the first one's again.
        let (a, b) = (UdpServer::new(cipher.clone()), UdpServer::new(cipher));
        let mut answers = Vec::new();
        for server in [&a, &b] {
            let (_, _, reply) = server.open(&mut d.clone()).unwrap();
            let mut answer = Vec::new();
            server.seal(reply, &target, b"x", &mut answer).unwrap();
            answers.push(answer);
        }
        assert!(client.open(&mut answers[0].clone()).is_ok());
        assert!(client.open(&mut answers[1].clone()).is_ok());
        assert!(client.open(&mut answers[0].clone()).is_err(), "the previous session's replay");
        assert!(client.open(&mut answers[1].clone()).is_err());
    }

    #[test]
    fn go_style_answers_carry_no_address() {
        let cipher = Cipher::new("aes-128-gcm", "pw", None).unwrap();
        let server = UdpServer::new(cipher.clone()).without_answer_addr();
        let mut client = UdpClient::new(cipher.clone()).unwrap().without_answer_addr();
        let target = Address::Domain("example.com".into(), 53);
        let mut d = Vec::new();
        client.seal(&target, b"q", &mut d).unwrap();
        let (_, _, reply) = server.open(&mut d).unwrap();
        let mut answer = Vec::new();
        let source = Address::Ip("127.0.0.1:53".parse().unwrap());
        server.seal(reply, &source, b"answer", &mut answer).unwrap();
        // The plaintext is the payload alone: a SIP004 client reads garbage as an address.
        assert!(open_packet(&cipher, &mut answer.clone()).map(|(a, _)| a).ok() != Some(source));
        let (from, payload) = client.open(&mut answer).unwrap();
        assert_eq!((from, &answer[payload]), (target, &b"answer"[..]), "as from the target");
    }

    #[test]
    fn sessions_are_bounded_and_answers_to_other_sessions_refused() {
        let cipher =
            Cipher::new("2022-blake3-aes-128-gcm", "AAAAAAAAAAAAAAAAAAAAAA==", None).unwrap();
        let server = UdpServer::with_limit(cipher.clone(), 2);
        let target = Address::Ip("127.0.0.1:7".parse().unwrap());
        let mut replies = Vec::new();
        for _ in 0..2 {
            let mut d = Vec::new();
            UdpClient::new(cipher.clone()).unwrap().seal(&target, b"x", &mut d).unwrap();
            replies.push(server.open(&mut d).unwrap().2);
        }
        let mut d = Vec::new();
        UdpClient::new(cipher.clone()).unwrap().seal(&target, b"x", &mut d).unwrap();
        assert_eq!(server.open(&mut d).unwrap_err().kind(), ErrorKind::Denied, "a third session");
        // An answer to the first session does not open in another client's.
        let mut answer = Vec::new();
        server.seal(replies[0], &target, b"y", &mut answer).unwrap();
        assert!(UdpClient::new(cipher).unwrap().open(&mut answer).is_err());
    }
}
