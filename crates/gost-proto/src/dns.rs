//! The DNS messages a stub resolver needs (RFC 1035): a query for one name and type, and the
//! A/AAAA records of the answer. DNS messages are datagrams (over TCP and TLS they come with a
//! 2-byte length prefix, which the transport strips), so the decoders take a whole message.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use gost_core::{Error, Result};

/// Record type A (IPv4 address).
pub const TYPE_A: u16 = 1;
/// Record type AAAA (IPv6 address).
pub const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const HEADER_LEN: usize = 12;
/// The longest name on the wire (RFC 1035 §2.3.4).
const MAX_NAME_LEN: usize = 255;

/// A query for `name` (`example.com`, with or without the final dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Matches the answer to the query.
    pub id: u16,
    /// The name asked about, without the final dot.
    pub name: String,
    /// [`TYPE_A`], [`TYPE_AAAA`], ...
    pub qtype: u16,
}

impl Query {
    /// Appends the query (recursion desired, one question, class IN).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let start = out.len();
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        if let Err(e) = encode_name(&self.name, out) {
            out.truncate(start);
            return Err(e);
        }
        out.extend_from_slice(&self.qtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        Ok(())
    }

    /// Parses a query (what a DNS server receives).
    pub fn decode(msg: &[u8]) -> Result<Query> {
        let header = header(msg)?;
        if header.qdcount != 1 {
            return Err(Error::protocol("dns query: expected exactly one question"));
        }
        let (name, at) = read_name(msg, HEADER_LEN)?;
        let qtype = u16_at(msg, at)?;
        Ok(Query { id: header.id, name, qtype })
    }
}

fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<()> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() + 2 > MAX_NAME_LEN {
        return Err(Error::protocol(format!("dns name {name:?} is too long")));
    }
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(Error::protocol(format!("invalid dns name {name:?}")));
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    Ok(())
}

struct Header {
    id: u16,
    flags: u16,
    qdcount: u16,
    ancount: u16,
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16> {
    match msg.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(Error::protocol("dns message truncated")),
    }
}

fn header(msg: &[u8]) -> Result<Header> {
    if msg.len() < HEADER_LEN {
        return Err(Error::protocol("dns message shorter than its header"));
    }
    Ok(Header {
        id: u16_at(msg, 0)?,
        flags: u16_at(msg, 2)?,
        qdcount: u16_at(msg, 4)?,
        ancount: u16_at(msg, 6)?,
    })
}

/// Reads a possibly compressed name at `at`; returns it and the offset after it (after the
/// first pointer, if any).
fn read_name(msg: &[u8], mut at: usize) -> Result<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    // Each pointer must go backwards, so a loop of pointers ends.
    let mut limit = at;
    loop {
        let len = *msg.get(at).ok_or_else(|| Error::protocol("dns name truncated"))?;
        match len {
            0 => {
                return Ok((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let target = usize::from(u16_at(msg, at)? & 0x3FFF);
                if target >= limit {
                    return Err(Error::protocol("dns name with a forward compression pointer"));
                }
                end.get_or_insert(at + 2);
                limit = target;
                at = target;
            }
            l if l & 0xC0 != 0 => return Err(Error::protocol("dns name with a bad label type")),
            l => {
                let label = msg
                    .get(at + 1..at + 1 + usize::from(l))
                    .ok_or_else(|| Error::protocol("dns label truncated"))?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label));
                if name.len() > MAX_NAME_LEN {
                    return Err(Error::protocol("dns name too long"));
                }
                at += 1 + usize::from(l);
            }
        }
    }
}

/// The question of a message (what a DNS proxy keys its cache and policies on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    /// Lower case, without the final dot.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    /// Where the question section ends.
    pub end: usize,
}

/// Record type OPT (EDNS): its TTL field holds flags, not a lifetime.
const TYPE_OPT: u16 = 41;
/// Class IN.
pub const CLASS_INET: u16 = CLASS_IN;
/// Response codes.
pub const RCODE_FORMERR: u8 = 1;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_REFUSED: u8 = 5;

/// The single question of a query (a query with no question, several, or a response is an
/// error).
pub fn question(msg: &[u8]) -> Result<Question> {
    let h = header(msg)?;
    if h.flags & 0x8000 != 0 {
        return Err(Error::protocol("dns: a response where a query was expected"));
    }
    if h.qdcount != 1 {
        return Err(Error::protocol("dns query: expected exactly one question"));
    }
    let (name, at) = read_name(msg, HEADER_LEN)?;
    let qtype = u16_at(msg, at)?;
    let qclass = u16_at(msg, at + 2)?;
    Ok(Question { id: h.id, name: name.to_ascii_lowercase(), qtype, qclass, end: at + 4 })
}

/// A reply to `query` (whose question is `q`) with no records and `rcode`: NOERROR with nothing
/// in it (gost's answer for a bypassed name), SERVFAIL, REFUSED...
pub fn empty_reply(query: &[u8], q: &Question, rcode: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.end);
    out.extend_from_slice(&q.id.to_be_bytes());
    // QR, the query's opcode and RD; RA; rcode.
    let opcode_rd = query.get(2).copied().unwrap_or(0) & 0x79;
    out.push(0x80 | opcode_rd);
    out.push(0x80 | (rcode & 0x0F));
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(query.get(HEADER_LEN..q.end).unwrap_or_default());
    out
}

/// The offsets of every record's TTL in a response (answers, authority and additional records;
/// not OPT's), with the TTLs.
pub fn ttls(msg: &[u8]) -> Result<Vec<(usize, u32)>> {
    let h = header(msg)?;
    let nscount = u16_at(msg, 8)?;
    let arcount = u16_at(msg, 10)?;
    let mut at = HEADER_LEN;
    for _ in 0..h.qdcount {
        at = read_name(msg, at)?.1 + 4;
    }
    let mut out = Vec::new();
    for _ in 0..(usize::from(h.ancount) + usize::from(nscount) + usize::from(arcount)) {
        at = read_name(msg, at)?.1;
        let rtype = u16_at(msg, at)?;
        let ttl_at = at + 4;
        let ttl = msg
            .get(ttl_at..ttl_at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| Error::protocol("dns record truncated"))?;
        let rdlen = usize::from(u16_at(msg, at + 8)?);
        if rtype != TYPE_OPT {
            out.push((ttl_at, ttl));
        }
        at += 10 + rdlen;
        if at > msg.len() {
            return Err(Error::protocol("dns record data truncated"));
        }
    }
    Ok(out)
}

/// A cached response made fresh for a query: its id, and each TTL less `elapsed` seconds.
pub fn refresh(msg: &[u8], id: u16, elapsed: u32) -> Result<Vec<u8>> {
    let mut out = msg.to_vec();
    out.get_mut(..2)
        .ok_or_else(|| Error::protocol("dns message truncated"))?
        .copy_from_slice(&id.to_be_bytes());
    for (at, ttl) in ttls(msg)? {
        if let Some(field) = out.get_mut(at..at + 4) {
            field.copy_from_slice(&ttl.saturating_sub(elapsed).to_be_bytes());
        }
    }
    Ok(out)
}

/// Whether `reply` answers `query` (whose question is `q`): the same id, the response bit, and
/// the same question (names compared without case, as resolvers that randomise it expect). A
/// proxy takes nothing else from an upstream: a spoofed or stray datagram is not an answer.
pub fn is_reply_to(reply: &[u8], query: &[u8], q: &Question) -> bool {
    let (Some(asked), Some(answered)) =
        (query.get(HEADER_LEN..q.end), reply.get(HEADER_LEN..q.end))
    else {
        return false;
    };
    reply[..2] == q.id.to_be_bytes()
        && reply[2] & 0x80 != 0
        && u16_at(reply, 4).ok() == Some(1)
        && asked.eq_ignore_ascii_case(answered)
}

/// A response's response code.
pub fn rcode(msg: &[u8]) -> Option<u8> {
    msg.get(3).map(|b| b & 0x0F)
}

/// Sets every TTL of a response to `ttl` (gost's `ttl` option).
pub fn set_ttls(msg: &mut [u8], ttl: u32) -> Result<()> {
    for (at, _) in ttls(msg)? {
        if let Some(field) = msg.get_mut(at..at + 4) {
            field.copy_from_slice(&ttl.to_be_bytes());
        }
    }
    Ok(())
}

/// `query` with an EDNS Client Subnet option (RFC 7871) for `ip` (IPv4: its /24, IPv6: /128,
/// as gost sends it): added to the query's OPT record, or in a new one. A query that already
/// carries a client subnet is left as it is.
pub fn with_client_subnet(query: &[u8], ip: IpAddr) -> Result<Vec<u8>> {
    let (family, prefix, addr): (u16, u8, Vec<u8>) = match ip {
        IpAddr::V4(v4) => (1, 24, v4.octets()[..3].to_vec()),
        IpAddr::V6(v6) => (2, 128, v6.octets().to_vec()),
    };
    let mut option = Vec::with_capacity(8 + addr.len());
    option.extend_from_slice(&8u16.to_be_bytes()); // EDNS0 client subnet
    option.extend_from_slice(&(4 + addr.len() as u16).to_be_bytes());
    option.extend_from_slice(&family.to_be_bytes());
    option.extend_from_slice(&[prefix, 0]);
    option.extend_from_slice(&addr);
    let h = header(query)?;
    let nscount = u16_at(query, 8)?;
    let arcount = u16_at(query, 10)?;
    let mut at = HEADER_LEN;
    for _ in 0..h.qdcount {
        at = read_name(query, at)?.1 + 4;
    }
    let mut skip = usize::from(h.ancount) + usize::from(nscount);
    for _ in 0..(skip + usize::from(arcount)) {
        at = read_name(query, at)?.1;
        let rtype = u16_at(query, at)?;
        let rdlen = usize::from(u16_at(query, at + 8)?);
        let rdata = at + 10;
        let end = rdata + rdlen;
        if end > query.len() {
            return Err(Error::protocol("dns record data truncated"));
        }
        if skip == 0 && rtype == TYPE_OPT {
            // Already a subnet option? Then nothing to add.
            let mut o = rdata;
            while o + 4 <= end {
                if u16_at(query, o)? == 8 {
                    return Ok(query.to_vec());
                }
                o += 4 + usize::from(u16_at(query, o + 2)?);
            }
            let new_len = u16::try_from(rdlen + option.len())
                .map_err(|_| Error::protocol("dns OPT record too long"))?;
            let mut out = Vec::with_capacity(query.len() + option.len());
            out.extend_from_slice(&query[..at + 8]);
            out.extend_from_slice(&new_len.to_be_bytes());
            out.extend_from_slice(&query[rdata..end]);
            out.extend_from_slice(&option);
            out.extend_from_slice(&query[end..]);
            return Ok(out);
        }
        skip = skip.saturating_sub(1);
        at = end;
    }
    // No OPT record: a new one (root name, UDP size 1232, no flags).
    let mut out = query.to_vec();
    let count = arcount.checked_add(1).ok_or_else(|| Error::protocol("dns: too many records"))?;
    out[10..12].copy_from_slice(&count.to_be_bytes());
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&1232u16.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(option.len() as u16).to_be_bytes());
    out.extend_from_slice(&option);
    Ok(out)
}

/// The addresses in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The query id it answers.
    pub id: u16,
    /// The response code (0 = no error, 3 = no such name, ...).
    pub rcode: u8,
    /// The server cut the answer (over UDP): ask again over TCP.
    pub truncated: bool,
    /// The question it echoes (name, type), if any.
    pub question: Option<(String, u16)>,
    /// The addresses that answer the question: A/AAAA records of the asked type owned by the
    /// asked name or by a name a CNAME chain from it leads to, in order. Records about other
    /// names or of other types are not taken.
    pub ips: Vec<IpAddr>,
    /// The smallest TTL of those records (and of the CNAMEs followed), in seconds.
    pub ttl: u32,
}

/// CNAME records followed from the question's name, at most.
const MAX_CNAME_HOPS: usize = 8;
const TYPE_CNAME: u16 = 5;

impl Answer {
    /// Parses a response (see [`Answer::ips`] for which records count).
    pub fn decode(msg: &[u8]) -> Result<Answer> {
        let h = header(msg)?;
        if h.flags & 0x8000 == 0 {
            return Err(Error::protocol("dns message is not a response"));
        }
        let mut at = HEADER_LEN;
        let mut question = None;
        for _ in 0..h.qdcount {
            let (name, next) = read_name(msg, at)?;
            let qtype = u16_at(msg, next)?;
            question.get_or_insert((name, qtype));
            at = next + 4;
        }
        // (owner, ttl, address or CNAME target)
        let mut records: Vec<(String, u32, std::result::Result<IpAddr, String>)> = Vec::new();
        for _ in 0..h.ancount {
            let (owner, next) = read_name(msg, at)?;
            at = next;
            let rtype = u16_at(msg, at)?;
            let class = u16_at(msg, at + 2)?;
            let rttl = u32::from(u16_at(msg, at + 4)?) << 16 | u32::from(u16_at(msg, at + 6)?);
            let len = usize::from(u16_at(msg, at + 8)?);
            let data = msg
                .get(at + 10..at + 10 + len)
                .ok_or_else(|| Error::protocol("dns record truncated"))?;
            let value = match (rtype, class, data.len()) {
                (TYPE_A, CLASS_IN, 4) => Ok(IpAddr::from([data[0], data[1], data[2], data[3]])),
                (TYPE_AAAA, CLASS_IN, 16) => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(data);
                    Ok(IpAddr::from(b))
                }
                (TYPE_A | TYPE_AAAA, CLASS_IN, _) => {
                    return Err(Error::protocol("dns address record of the wrong length"));
                }
                (TYPE_CNAME, CLASS_IN, _) => match read_name(msg, at + 10) {
                    Ok((target, _)) => Err(target),
                    // A bad CNAME about another name must not spoil the answer.
                    Err(_) => {
                        at += 10 + len;
                        continue;
                    }
                },
                _ => {
                    at += 10 + len;
                    continue;
                }
            };
            at += 10 + len;
            records.push((owner, rttl, value));
        }
        let (ips, ttl) = match &question {
            Some((name, qtype)) => answers_to(&records, name, *qtype),
            None => (Vec::new(), 0),
        };
        Ok(Answer {
            id: h.id,
            rcode: (h.flags & 0x000F) as u8,
            truncated: h.flags & 0x0200 != 0,
            question,
            ips,
            ttl,
        })
    }
}

/// The addresses of type `qtype` for `name`, following CNAMEs; and the smallest TTL involved.
fn answers_to(
    records: &[(String, u32, std::result::Result<IpAddr, String>)],
    name: &str,
    qtype: u16,
) -> (Vec<IpAddr>, u32) {
    let same =
        |a: &str, b: &str| a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'));
    let mut owner = name.to_owned();
    let mut ttl = u32::MAX;
    for _ in 0..MAX_CNAME_HOPS {
        let next = records.iter().find_map(|(o, t, v)| match v {
            Err(target) if same(o, &owner) => Some((target.clone(), *t)),
            _ => None,
        });
        match next {
            Some((target, t)) => {
                owner = target;
                ttl = ttl.min(t);
            }
            None => break,
        }
    }
    let mut ips = Vec::new();
    let mut addr_ttl = u32::MAX;
    for (o, t, v) in records {
        if let Ok(ip) = v
            && same(o, &owner)
            && matches!((qtype, ip), (TYPE_A, IpAddr::V4(_)) | (TYPE_AAAA, IpAddr::V6(_)))
        {
            ips.push(*ip);
            addr_ttl = addr_ttl.min(*t);
        }
    }
    if ips.is_empty() {
        return (ips, 0);
    }
    (ips, ttl.min(addr_ttl))
}

/// Builds the response to `query` carrying `ips` (those of the query's type) with `ttl`; no
/// address means "no such name". For small DNS servers in tests and tools.
pub fn respond(query: &Query, ips: &[IpAddr], ttl: u32) -> Result<Vec<u8>> {
    let answers: Vec<&IpAddr> = ips
        .iter()
        .filter(|ip| match query.qtype {
            TYPE_A => ip.is_ipv4(),
            TYPE_AAAA => ip.is_ipv6(),
            _ => false,
        })
        .collect();
    let mut out = Vec::with_capacity(64 + answers.len() * 28);
    out.extend_from_slice(&query.id.to_be_bytes());
    let rcode: u8 = if ips.is_empty() { 3 } else { 0 };
    out.extend_from_slice(&[0x81, 0x80 | rcode, 0, 1]);
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    encode_name(&query.name, &mut out)?;
    out.extend_from_slice(&query.qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    for ip in answers {
        out.extend_from_slice(&[0xC0, HEADER_LEN as u8]);
        let (rtype, data): (u16, Vec<u8>) = match ip {
            IpAddr::V4(v4) => (TYPE_A, Ipv4Addr::octets(v4).to_vec()),
            IpAddr::V6(v6) => (TYPE_AAAA, Ipv6Addr::octets(v6).to_vec()),
        };
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trip() {
        let q = Query { id: 0x1234, name: "www.example.com".into(), qtype: TYPE_AAAA };
        let mut buf = Vec::new();
        q.encode(&mut buf).unwrap();
        assert_eq!(&buf[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(Query::decode(&buf).unwrap(), q);
        let mut trailing = Vec::new();
        Query { name: "example.com.".into(), ..q.clone() }.encode(&mut trailing).unwrap();
        assert_eq!(Query::decode(&trailing).unwrap().name, "example.com");
    }

    #[test]
    fn answer_round_trip() {
        let q = Query { id: 7, name: "a.test".into(), qtype: TYPE_A };
        let ips: Vec<IpAddr> = vec!["127.0.0.7".parse().unwrap(), "::1".parse().unwrap()];
        let a = Answer::decode(&respond(&q, &ips, 30).unwrap()).unwrap();
        let question = Some(("a.test".to_owned(), TYPE_A));
        assert_eq!(
            a,
            Answer { id: 7, rcode: 0, truncated: false, question, ips: vec![ips[0]], ttl: 30 }
        );
        let none = Answer::decode(&respond(&q, &[], 30).unwrap()).unwrap();
        assert_eq!((none.rcode, none.ips.len()), (3, 0));
    }

    #[test]
    fn bad_names_and_garbage() {
        let mut out = vec![9];
        assert!(Query { id: 1, name: "a..b".into(), qtype: 1 }.encode(&mut out).is_err());
        assert_eq!(out, vec![9], "a failed encode leaves the buffer as it was");
        let long = "a".repeat(64);
        assert!(Query { id: 1, name: long, qtype: 1 }.encode(&mut out).is_err());
        for n in 0..40 {
            let _ = Answer::decode(&vec![0xC0; n]);
            let _ = Query::decode(&vec![0xC0; n]);
        }
        // A pointer to itself must not loop.
        let mut msg = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1];
        assert!(Answer::decode(&msg).is_err());
        msg[13] = 13;
        assert!(Answer::decode(&msg).is_err(), "forward pointer");
    }

    /// A response to `name`/`qtype` carrying raw answer records `(owner, type, rdata)`.
    fn response(name: &str, qtype: u16, records: &[(&str, u16, Vec<u8>)]) -> Vec<u8> {
        let mut out = vec![0, 9, 0x81, 0x80, 0, 1, 0, records.len() as u8, 0, 0, 0, 0];
        encode_name(name, &mut out).unwrap();
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        for (owner, rtype, data) in records {
            encode_name(owner, &mut out).unwrap();
            out.extend_from_slice(&rtype.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&60u32.to_be_bytes());
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn only_records_that_answer_the_question_count() {
        let mut cname = Vec::new();
        encode_name("edge.cdn.test", &mut cname).unwrap();
        let msg = response(
            "www.test",
            TYPE_A,
            &[
                ("evil.test", TYPE_A, vec![6, 6, 6, 6]),
                ("www.test", TYPE_CNAME, cname),
                ("EDGE.cdn.test", TYPE_A, vec![1, 2, 3, 4]),
                ("www.test", TYPE_AAAA, vec![0; 16]),
            ],
        );
        let a = Answer::decode(&msg).unwrap();
        assert_eq!(a.question, Some(("www.test".to_owned(), TYPE_A)));
        assert_eq!(a.ips, vec![IpAddr::from([1, 2, 3, 4])], "other names and types are not taken");
        let stray = response("www.test", TYPE_A, &[("other.test", TYPE_A, vec![6, 6, 6, 6])]);
        assert!(Answer::decode(&stray).unwrap().ips.is_empty());
    }

    #[test]
    fn truncated_answers_are_errors() {
        let q = Query { id: 7, name: "a.test".into(), qtype: TYPE_A };
        let full = respond(&q, &["1.2.3.4".parse().unwrap()], 5).unwrap();
        for cut in 0..full.len() {
            assert!(Answer::decode(&full[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn proxy_helpers_read_questions_and_rewrite_ttls() {
        let q = Query { id: 9, name: "Www.Example.COM".into(), qtype: TYPE_A };
        let mut msg = Vec::new();
        q.encode(&mut msg).unwrap();
        let qn = question(&msg).unwrap();
        assert_eq!(qn.name, "www.example.com");
        assert_eq!((qn.qtype, qn.qclass, qn.end), (TYPE_A, CLASS_INET, msg.len()));
        let empty = empty_reply(&msg, &qn, RCODE_SERVFAIL);
        assert_eq!(rcode(&empty), Some(RCODE_SERVFAIL));
        assert_eq!(empty[2] & 0x80, 0x80, "a response");
        let reply = respond(&q, &["10.0.0.1".parse().unwrap()], 300).unwrap();
        assert!(question(&reply).is_err(), "a response is no query");
        assert_eq!(ttls(&reply).unwrap().iter().map(|t| t.1).collect::<Vec<_>>(), [300]);
        assert!(is_reply_to(&reply, &msg, &qn), "the answer to the query");
        assert!(!is_reply_to(&msg, &msg, &qn), "a query is no answer");
        let other =
            respond(&Query { id: 9, name: "evil.test".into(), qtype: TYPE_A }, &[], 1).unwrap();
        assert!(!is_reply_to(&other, &msg, &qn), "another question");
        assert!(!is_reply_to(&reply[..10], &msg, &qn));
        let fresh = refresh(&reply, 77, 100).unwrap();
        assert_eq!(&fresh[..2], &77u16.to_be_bytes());
        assert_eq!(Answer::decode(&fresh).unwrap().ttl, 200);
        let mut fixed = reply.clone();
        set_ttls(&mut fixed, 5).unwrap();
        assert_eq!(Answer::decode(&fixed).unwrap().ttl, 5);
        assert!(ttls(&reply[..reply.len() - 2]).is_err());
        assert!(question(b"short").is_err());
    }

    #[test]
    fn client_subnet_goes_into_an_opt_record() {
        let q = Query { id: 1, name: "a.test".into(), qtype: TYPE_A };
        let mut msg = Vec::new();
        q.encode(&mut msg).unwrap();
        let with = with_client_subnet(&msg, "192.0.2.77".parse().unwrap()).unwrap();
        assert_eq!(u16_at(&with, 10).unwrap(), 1, "one OPT record");
        assert!(with.ends_with(&[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]), "{with:?}");
        assert_eq!(question(&with).unwrap().name, "a.test");
        // Into an existing OPT record; and not twice.
        let again = with_client_subnet(&with, "::1".parse().unwrap()).unwrap();
        assert_eq!(again, with, "a subnet is there already");
        let mut opt_only = msg.clone();
        opt_only[10..12].copy_from_slice(&1u16.to_be_bytes());
        opt_only.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]);
        let merged = with_client_subnet(&opt_only, "2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(u16_at(&merged, 10).unwrap(), 1, "still one OPT record");
        assert_eq!(merged.len(), opt_only.len() + 8 + 16);
        assert!(with_client_subnet(&msg[..5], "10.0.0.1".parse().unwrap()).is_err());
    }
}
