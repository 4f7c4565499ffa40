//! TLS for the listeners: the server's certificate chain and private key read from PEM files,
//! optionally a CA whose certificates clients must present, and the handshake of each accepted
//! connection (rustls through tokio-rustls, with the `ring` crypto provider).
//!
//! Everything is loaded and checked by [`load`] before any listener is bound, so a wrong path, a
//! file without a key or a key that does not belong to the certificate stops the start with a
//! sentence naming the file. A client that fails the handshake or stalls in it
//! ([`HANDSHAKE_TIMEOUT`]) loses its connection and nothing else.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::error::ServerError;
use crate::net::Stream;

/// How long a client may take to complete the TLS handshake before its connection (and the
/// connection slot it holds) is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the TLS material comes from (the `tls_*` settings).
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles<'a> {
    /// The certificate chain, server certificate first (PEM, `BEGIN CERTIFICATE` blocks).
    pub cert: &'a Path,
    /// The private key of the first certificate (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: &'a Path,
    /// If set, clients must present a certificate signed by one of these CAs (PEM).
    pub client_ca: Option<&'a Path>,
}

/// Reads and checks the certificate, the key and the client CA, and builds the acceptor.
pub fn load(files: TlsFiles<'_>) -> Result<TlsAcceptor, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = read_certs(files.cert, "certificate")?;
    let key = read_key(files.key)?;
    let certified = certified_key(&provider, chain, key, files)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(format!("setting up TLS: {e}")))?;
    let builder = match files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(path, "client CA")? {
                roots.add(cert).map_err(|e| tls_error(format!("TLS client CA file {}: a certificate is unusable: {e}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_error(format!("TLS client CA file {}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Runs the server side of the handshake, within [`HANDSHAKE_TIMEOUT`] and until shutdown.
/// `None` when it failed, timed out or the server is stopping (the reason is logged at debug
/// level: a port scanner must not flood the log).
pub(crate) async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Stream> {
    if *shutdown.borrow() {
        return None;
    }
    let attempt = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
    tokio::select! {
        result = attempt => match result {
            Ok(Ok(tls)) => Some(Stream::Tls(Box::new(tls))),
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake with {peer} failed: {e}");
                None
            }
            Err(_) => {
                tracing::debug!("TLS handshake with {peer} not done after {} s; closing", HANDSHAKE_TIMEOUT.as_secs());
                None
            }
        },
        _ = shutdown.changed() => None,
    }
}

fn tls_error(message: String) -> ServerError {
    ServerError::Config(message)
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, ServerError> {
    std::fs::read(path).map_err(|e| tls_error(format!("reading the TLS {what} file {}: {e}", path.display())))
}

/// What is wrong with a PEM file, in words (the crate's own wording shows raw bytes).
fn pem_problem(e: &pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!("a PEM block has no end line (expected {:?})", String::from_utf8_lossy(end_marker).trim())
        }
        pem::Error::IllegalSectionStart { line } => format!("malformed PEM line {:?}", String::from_utf8_lossy(line).trim()),
        pem::Error::Base64Decode(e) => format!("a PEM block is not valid base64 ({e})"),
        other => other.to_string(),
    }
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let bytes = read_file(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(format!("TLS {what} file {}: {}", path.display(), pem_problem(&e))))?;
    if certs.is_empty() {
        return Err(tls_error(format!(
            "TLS {what} file {} holds no certificate: expected PEM blocks starting with -----BEGIN CERTIFICATE-----",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServerError> {
    let bytes = read_file(path, "key")?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => tls_error(format!(
            "TLS key file {} holds no private key: expected a PEM block starting with -----BEGIN PRIVATE KEY----- \
             (or RSA PRIVATE KEY, EC PRIVATE KEY)",
            path.display()
        )),
        e => tls_error(format!("TLS key file {}: {}", path.display(), pem_problem(&e))),
    })
}

/// The chain with its signing key, refused if the key is not the first certificate's.
fn certified_key(
    provider: &CryptoProvider,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    files: TlsFiles<'_>,
) -> Result<Arc<rustls::sign::CertifiedKey>, ServerError> {
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| tls_error(format!("TLS key file {}: the key is not usable: {e}", files.key.display())))?;
    let certified = rustls::sign::CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => Err(tls_error(format!(
            "TLS key file {} does not match the certificate in {}: the first certificate must be the one the key belongs to",
            files.key.display(),
            files.cert.display()
        ))),
        Err(e) => Err(tls_error(format!("TLS certificate file {}: {e}", files.cert.display()))),
    }
}
