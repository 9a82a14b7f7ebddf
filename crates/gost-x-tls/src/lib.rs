//! # gost-x-tls
//!
//! TLS as gost does it, on rustls with the ring provider:
//!
//! * [`server_config`]: the certificate from `certFile`/`keyFile`; without one, `cert.pem` and
//!   `key.pem` from the working directory, then `~/.gost/auto-ca-cert.pem`/`auto-ca-key.pem` (Go
//!   gost's persisted default), else a generated self-signed ECDSA P-256 certificate for
//!   `gost.run` (kept in memory). `caFile` requires and verifies client certificates (mTLS).
//!   `rejectUnknownSNI` fails handshakes without a server name, and with `serverNames` those
//!   naming another one (gost 3.3).
//! * [`client_config`]: `secure=false` (the default, as in gost) accepts any server certificate;
//!   with `caFile` the chain is checked against that CA but not the name; `secure=true` checks
//!   chain and name (against `caFile`, else the system roots). `serverName` sets SNI (default: the
//!   node's host). `certFile`/`keyFile` present a client certificate.
//! * Both: `minVersion`/`maxVersion` (`VersionTLS12`, `VersionTLS13`; rustls has no 1.0/1.1, so
//!   those mean 1.2) and `alpn` (a list or a comma list).
//! * [`accept`] / [`connect`]: run the handshake over any gost connection.
//!
//! Keys accept gost's aliases: `certFile`/`cert`/`tls.certFile`, `keyFile`/`key`/`tls.keyFile`,
//! `caFile`/`ca`/`tls.caFile`, `secure`/`tls.secure`, `serverName`/`tls.serverName`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gost_core::{BoxConn, Error, ErrorKind, Metadata, Result, ResultExt};
use gost_x_rt::{Compat, TokioConn};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

pub use tokio_rustls::{TlsAcceptor, TlsConnector};

const CERT_KEYS: &[&str] = &["certFile", "cert", "tls.certFile"];
const KEY_KEYS: &[&str] = &["keyFile", "key", "tls.keyFile"];
const CA_KEYS: &[&str] = &["caFile", "ca", "tls.caFile"];

/// Whether `md` names a certificate, key or CA file of its own (then a default TLS block,
/// such as the config's top-level `tls`, must not be mixed in).
pub fn names_certificate_files(md: &Metadata) -> bool {
    [CERT_KEYS, KEY_KEYS, CA_KEYS].iter().flat_map(|keys| keys.iter()).any(|k| md.contains(k))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn versions(md: &Metadata) -> Result<Vec<&'static rustls::SupportedProtocolVersion>> {
    let parse = |key: &[&str]| -> Result<Option<u8>> {
        let Some(v) = md.get_string(key)? else { return Ok(None) };
        let norm = v.to_ascii_lowercase().replace(['_', ' ', '.'], "");
        let minor = match norm.as_str() {
            "versiontls10" | "tls10" | "10" | "versiontls11" | "tls11" | "11" | "versiontls12"
            | "tls12" | "12" => 2,
            "versiontls13" | "tls13" | "13" => 3,
            _ => {
                return Err(Error::config(format!(
                    "unknown TLS version {v:?} (expected VersionTLS12 or VersionTLS13)"
                )));
            }
        };
        Ok(Some(minor))
    };
    let min = parse(&["minVersion", "tls.minVersion", "options.minVersion"])?.unwrap_or(2);
    let max = parse(&["maxVersion", "tls.maxVersion", "options.maxVersion"])?.unwrap_or(3);
    if min > max {
        return Err(Error::config("TLS minVersion is above maxVersion"));
    }
    let mut out = Vec::new();
    if min <= 2 && max >= 2 {
        out.push(&rustls::version::TLS12);
    }
    if max >= 3 {
        out.push(&rustls::version::TLS13);
    }
    Ok(out)
}

fn alpn(md: &Metadata) -> Result<Vec<Vec<u8>>> {
    Ok(md
        .get_strings(&["alpn", "tls.alpn", "options.alpn"])?
        .unwrap_or_default()
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| Error::config(format!("read certificates from {}: {e}", path.display())))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::config(format!("parse certificates in {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::config(format!("no certificate in {}", path.display())));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| Error::config(format!("read private key from {}: {e}", path.display())))
}

fn read_roots(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| Error::config(format!("CA certificate in {}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// The certificate and key a server uses when none is configured (see the crate docs).
fn default_identity() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut candidates = vec![(PathBuf::from("cert.pem"), PathBuf::from("key.pem"))];
    if let Some(home) = home {
        candidates.push((home.join(".gost/auto-ca-cert.pem"), home.join(".gost/auto-ca-key.pem")));
    }
    for (cert, key) in candidates {
        if cert.is_file() && key.is_file() {
            tracing::debug!("TLS: using the default certificate {}", cert.display());
            return Ok((read_certs(&cert)?, read_key(&key)?));
        }
    }
    generate_self_signed()
}

/// A self-signed ECDSA P-256 certificate for `gost.run` (O=GOST), as gost generates.
pub fn generate_self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let fail =
        |e: rcgen::Error| Error::new(ErrorKind::Config, format!("generate a certificate: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(fail)?;
    let mut params = rcgen::CertificateParams::new(vec!["gost.run".to_owned()]).map_err(fail)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "gost.run");
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "GOST");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages =
        vec![rcgen::KeyUsagePurpose::DigitalSignature, rcgen::KeyUsagePurpose::KeyCertSign];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&key).map_err(fail)?;
    let der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| Error::config(format!("generated key: {e}")))?;
    Ok((vec![cert.der().clone()], der))
}

/// A server configuration from listener metadata.
pub fn server_config(md: &Metadata) -> Result<Arc<ServerConfig>> {
    let cert_file = md.get_string(CERT_KEYS)?;
    let key_file = md.get_string(KEY_KEYS)?;
    let (certs, key) = match (cert_file, key_file) {
        (Some(c), Some(k)) => (read_certs(Path::new(&c))?, read_key(Path::new(&k))?),
        (None, None) => default_identity()?,
        _ => return Err(Error::config("TLS needs both certFile and keyFile")),
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(md)?)
        .map_err(|e| Error::config(format!("TLS versions: {e}")))?;
    let builder = match md.get_string(CA_KEYS)? {
        Some(ca) => {
            let roots = Arc::new(read_roots(Path::new(&ca))?);
            let verifier =
                WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| Error::config(format!("client certificate verifier: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let reject_unknown =
        md.get_bool(&["rejectUnknownSNI", "tls.rejectUnknownSNI"])?.unwrap_or(false);
    let allowed: Vec<String> = md
        .get_strings(&["serverNames", "tls.serverNames"])?
        .unwrap_or_default()
        .iter()
        .flat_map(|n| n.split(','))
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    let mut config = if reject_unknown {
        let key = rustls::sign::CertifiedKey::from_der(certs, key, &provider())
            .map_err(|e| Error::config(format!("TLS certificate: {e}")))?;
        builder.with_cert_resolver(Arc::new(SniGate { key: Arc::new(key), allowed }))
    } else {
        builder
            .with_single_cert(certs, key)
            .map_err(|e| Error::config(format!("TLS certificate: {e}")))?
    };
    config.alpn_protocols = alpn(md)?;
    Ok(Arc::new(config))
}

/// gost 3.3's `rejectUnknownSNI`: a handshake without a server name, or (with `serverNames`)
/// with one not in the list (case-insensitive), gets no certificate and fails.
#[derive(Debug)]
struct SniGate {
    key: Arc<rustls::sign::CertifiedKey>,
    allowed: Vec<String>,
}

impl rustls::server::ResolvesServerCert for SniGate {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let name = hello.server_name().filter(|n| !n.is_empty());
        let admitted = match name {
            None => false,
            Some(n) => {
                self.allowed.is_empty() || self.allowed.iter().any(|a| a.eq_ignore_ascii_case(n))
            }
        };
        if !admitted {
            tracing::debug!(sni = ?name, "tls: server name refused (rejectUnknownSNI)");
        }
        admitted.then(|| self.key.clone())
    }
}

/// A client configuration from dialer metadata, and the configured `serverName` if any (see
/// [`server_name`] for the name to present on each connection).
pub fn client_config(md: &Metadata) -> Result<(Arc<ClientConfig>, Option<String>)> {
    let secure = md.get_bool(&["secure", "tls.secure"])?.unwrap_or(false);
    let name = md.get_string(&["serverName", "servername", "tls.serverName"])?;
    if let Some(n) = &name {
        server_name(Some(n), "")?;
    }
    let ca = md.get_string(CA_KEYS)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&versions(md)?)
        .map_err(|e| Error::config(format!("TLS versions: {e}")))?;
    let algorithms = provider().signature_verification_algorithms;
    let builder = match (secure, ca) {
        (true, Some(ca)) => builder.with_root_certificates(read_roots(Path::new(&ca))?),
        (true, None) => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::config(
                    "secure TLS: no system root certificates found (set caFile)",
                ));
            }
            builder.with_root_certificates(roots)
        }
        (false, Some(ca)) => {
            let roots = Arc::new(read_roots(Path::new(&ca))?);
            let inner =
                rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| Error::config(format!("server certificate verifier: {e}")))?;
            builder.dangerous().with_custom_certificate_verifier(Arc::new(ChainOnly { inner }))
        }
        (false, None) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate { algorithms })),
    };
    let mut config = match (md.get_string(CERT_KEYS)?, md.get_string(KEY_KEYS)?) {
        (Some(c), Some(k)) => builder
            .with_client_auth_cert(read_certs(Path::new(&c))?, read_key(Path::new(&k))?)
            .map_err(|e| Error::config(format!("TLS client certificate: {e}")))?,
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(Error::config("a TLS client certificate needs both certFile and keyFile")),
    };
    config.alpn_protocols = alpn(md)?;
    Ok((Arc::new(config), name))
}

/// The name a client presents: the configured `serverName`, else the node's `host` (an IP
/// literal sends no SNI, as in Go).
pub fn server_name(configured: Option<&str>, host: &str) -> Result<ServerName<'static>> {
    let host = configured.unwrap_or(host);
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let host = if host.is_empty() { "localhost" } else { host };
    ServerName::try_from(host.to_owned())
        .map_err(|e| Error::config(format!("TLS server name {host:?}: {e}")))
}

/// Runs the server handshake on `conn`.
pub async fn accept(acceptor: &TlsAcceptor, conn: BoxConn) -> Result<BoxConn> {
    let (local, peer) = (conn.local_addr(), conn.peer_addr());
    let tls = acceptor
        .accept(Compat::new(conn))
        .await
        .with_context(ErrorKind::Handshake, || format!("TLS handshake with {}", show(peer)))?;
    Ok(Box::new(TokioConn::with_addrs(tls, local, peer)))
}

/// Runs the client handshake on `conn`.
pub async fn connect(
    connector: &TlsConnector,
    name: ServerName<'static>,
    conn: BoxConn,
) -> Result<BoxConn> {
    let (local, peer) = (conn.local_addr(), conn.peer_addr());
    let tls = connector
        .connect(name, Compat::new(conn))
        .await
        .with_context(ErrorKind::Handshake, || format!("TLS handshake with {}", show(peer)))?;
    Ok(Box::new(TokioConn::with_addrs(tls, local, peer)))
}

fn show(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "the peer".to_owned(), |a| a.to_string())
}

/// `secure=false`: any certificate is accepted (gost's InsecureSkipVerify); the handshake
/// signatures are still checked.
#[derive(Debug)]
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `caFile` without `secure`: the chain must lead to the CA, the name is not checked (gost).
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gost_core::io::{read_exact, write_all};

    /// A CA and a leaf certificate for gost.run signed by it, written to a temp dir:
    /// (dir, CA cert path, leaf cert path, leaf key path).
    fn cert_files(tag: &str) -> (PathBuf, String, String, String) {
        let dir = std::env::temp_dir().join(format!("gost-x-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, format!("test CA {tag}"));
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut leaf_params = rcgen::CertificateParams::new(vec!["gost.run".to_owned()]).unwrap();
        leaf_params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
        let (c, l, k) = (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, ca.pem()).unwrap();
        std::fs::write(&l, leaf.pem()).unwrap();
        std::fs::write(&k, leaf_key.serialize_pem()).unwrap();
        let show = |p: PathBuf| p.display().to_string();
        (dir.clone(), show(c), show(l), show(k))
    }

    async fn handshake(server_md: Metadata, client_md: Metadata, host: &str) -> Result<()> {
        let acceptor = TlsAcceptor::from(server_config(&server_md)?);
        let (config, configured) = client_config(&client_md)?;
        let name = server_name(configured.as_deref(), host)?;
        let connector = TlsConnector::from(config);
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = l.local_addr()?;
        let server = tokio::spawn(async move {
            let (s, _) = l.accept().await?;
            let mut conn = accept(&acceptor, Box::new(TokioConn::tcp(s))).await?;
            let mut buf = [0u8; 4];
            read_exact(&mut conn, &mut buf).await?;
            write_all(&mut conn, &buf).await?;
            Ok::<_, Error>(())
        });
        let s = tokio::net::TcpStream::connect(addr).await?;
        let mut conn = connect(&connector, name, Box::new(TokioConn::tcp(s))).await?;
        write_all(&mut conn, b"ping").await?;
        let mut buf = [0u8; 4];
        read_exact(&mut conn, &mut buf).await?;
        assert_eq!(&buf, b"ping");
        server.await.map_err(|e| Error::new(ErrorKind::Io, e.to_string()))?
    }

    #[tokio::test]
    async fn default_certificate_and_insecure_client() {
        // No certFile: cert.pem/key.pem are not in the test's working directory, so a
        // certificate is generated (or ~/.gost's is used).
        handshake(Metadata::new(), Metadata::new(), "127.0.0.1").await.unwrap();
    }

    #[tokio::test]
    async fn verification_modes() {
        let (dir, ca, cert, key) = cert_files("verify");
        let server = Metadata::new().with("certFile", cert.as_str()).with("keyFile", key.as_str());
        // secure with the CA and the right name.
        let ok = Metadata::new().with("secure", true).with("caFile", ca.as_str());
        handshake(server.clone(), ok.clone(), "gost.run").await.unwrap();
        // secure with the wrong name fails; the CA alone (no secure) checks the chain only.
        let err = handshake(server.clone(), ok, "example.com").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Handshake, "{err}");
        let chain_only = Metadata::new().with("caFile", ca.as_str());
        handshake(server.clone(), chain_only, "example.com").await.unwrap();
        // A different CA fails even without secure.
        let (dir2, other, _, _) = cert_files("other");
        let wrong_ca = Metadata::new().with("caFile", other.as_str());
        assert!(handshake(server, wrong_ca, "gost.run").await.is_err());
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::remove_dir_all(dir2);
    }

    #[tokio::test]
    async fn mutual_tls() {
        let (dir, ca, cert, key) = cert_files("mtls");
        let server = Metadata::new()
            .with("certFile", cert.as_str())
            .with("keyFile", key.as_str())
            .with("caFile", ca.as_str());
        let with_cert =
            Metadata::new().with("certFile", cert.as_str()).with("keyFile", key.as_str());
        handshake(server.clone(), with_cert, "gost.run").await.unwrap();
        assert!(handshake(server, Metadata::new(), "gost.run").await.is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn reject_unknown_sni() {
        let gate = Metadata::new().with("rejectUnknownSNI", true);
        handshake(gate.clone(), Metadata::new(), "gost.run").await.unwrap();
        // An IP host sends no server name: refused.
        assert!(handshake(gate.clone(), Metadata::new(), "127.0.0.1").await.is_err());
        let listed = gate.with("serverNames", "a.test,b.test");
        handshake(listed.clone(), Metadata::new(), "A.test").await.unwrap();
        assert!(handshake(listed.clone(), Metadata::new(), "c.test").await.is_err());
        // Off: anything goes.
        handshake(Metadata::new(), Metadata::new(), "127.0.0.1").await.unwrap();
    }

    #[test]
    fn bad_options_are_config_errors() {
        let only_cert = Metadata::new().with("certFile", "/nonexistent.pem");
        assert_eq!(server_config(&only_cert).unwrap_err().kind(), ErrorKind::Config);
        let missing = Metadata::new().with("certFile", "/nonexistent.pem").with("keyFile", "/x");
        assert!(server_config(&missing).unwrap_err().to_string().contains("/nonexistent.pem"));
        let bad_version = Metadata::new().with("minVersion", "VersionSSL30");
        assert!(client_config(&bad_version).is_err());
        let tls13 = Metadata::new().with("minVersion", "VersionTLS13").with("alpn", "h2,http/1.1");
        let (cfg, _) = client_config(&tls13).unwrap();
        assert_eq!(cfg.alpn_protocols, [b"h2".to_vec(), b"http/1.1".to_vec()]);
    }
}
