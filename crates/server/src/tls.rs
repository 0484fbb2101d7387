//! HTTPS: a certificate chain and its key from PEM ([`TlsConfig`]), and a listener that
//! accepts TCP connections and finishes each TLS handshake in a task of its own
//! ([`TlsListener`]), so a client that never completes its handshake holds up nobody else.

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a certificate and key cannot serve HTTPS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file holds no `CERTIFICATE` PEM block.
    #[error("no certificate in it (expected a PEM file with a -----BEGIN CERTIFICATE----- block)")]
    NoCertificate,
    /// The key file holds no private key PEM block.
    #[error("no private key in it (expected a PEM file with a PKCS#8, RSA or SEC1 private key; encrypted keys are not supported)")]
    NoKey,
    /// A PEM block that cannot be read.
    #[error("not a readable PEM file: {0}")]
    Pem(String),
    /// The key is not the one the certificate was made for.
    #[error("the private key does not match the certificate (the first certificate in the file)")]
    KeyMismatch,
    /// The key or certificate is not one rustls can use.
    #[error("cannot use this certificate and key: {0}")]
    Unusable(rustls::Error),
}

/// A certificate chain (leaf first) with its private key, ready to serve HTTPS.
#[derive(Clone)]
pub struct TlsConfig {
    server: Arc<rustls::ServerConfig>,
    leaf: CertificateDer<'static>,
    chain_len: usize,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("fingerprint", &self.fingerprint())
            .field("chain_len", &self.chain_len)
            .finish_non_exhaustive()
    }
}

/// Reads the certificates of a PEM file (leaf first, then its chain).
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 RSA or SEC1 EC) of a PEM file.
pub fn private_key_from_pem(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoKey,
        e => pem_error(e),
    })
}

fn pem_error(e: pem::Error) -> TlsError {
    TlsError::Pem(match e {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a PEM block does not end (missing {})",
            String::from_utf8_lossy(&end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => format!(
            "bad PEM line {:?}",
            String::from_utf8_lossy(&line)
                .chars()
                .take(60)
                .collect::<String>()
        ),
        pem::Error::Base64Decode(e) => format!("bad base64 in a PEM block: {e}"),
        e => e.to_string(),
    })
}

/// SHA-256 of a certificate (DER) as browsers show it: upper-case hex bytes joined by colons.
pub fn fingerprint(cert_der: &[u8]) -> String {
    Sha256::digest(cert_der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl TlsConfig {
    /// A server configuration (TLS 1.2 and 1.3, ring's algorithms, HTTP/1.1) from a PEM
    /// certificate chain and a PEM private key. Refuses a key that does not match the
    /// certificate.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, TlsError> {
        let chain = certificates_from_pem(cert_pem)?;
        let key = private_key_from_pem(key_pem)?;
        Self::new(chain, key)
    }

    /// As [`TlsConfig::from_pem`], from DER.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        let leaf = chain.first().cloned().ok_or(TlsError::NoCertificate)?;
        let chain_len = chain.len();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certified =
            rustls::sign::CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
                rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                    TlsError::KeyMismatch
                }
                e => TlsError::Unusable(e),
            })?;
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Unusable)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
        // axum serves HTTP/1.1 only (no `http2` feature)
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            server: Arc::new(server),
            leaf,
            chain_len,
        })
    }

    /// The leaf certificate (DER).
    pub fn leaf(&self) -> &[u8] {
        &self.leaf
    }

    /// How many certificates the chain holds (the leaf included).
    pub fn chain_len(&self) -> usize {
        self.chain_len
    }

    /// The leaf's SHA-256 fingerprint (see [`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.leaf)
    }
}

/// An [`axum::serve::Listener`] of TLS connections: a task accepts TCP connections and
/// spawns one task per connection for its handshake (at most [`HANDSHAKE_TIMEOUT`]); the
/// connections whose handshake succeeded come out of [`Listener::accept`] in the order they
/// finished. Dropping the listener (axum does on shutdown) stops accepting and drops the
/// handshakes in progress.
///
/// [`Listener::accept`]: axum::serve::Listener::accept
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` (must be called inside a tokio runtime).
    pub fn new(listener: TcpListener, config: &TlsConfig) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(Arc::clone(&config.server));
        tokio::spawn(accept_loop(listener, acceptor, tx));
        Ok(TlsListener { ready, local_addr })
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = tx.closed() => return,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                    let stream = tokio::select! {
                        done = handshake => match done {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake timed out");
                                return;
                            }
                        },
                        () = tx.closed() => return,
                    };
                    let _ = tx.send((stream, peer)).await;
                });
            }
            // the same as axum does for a plain TcpListener: a connection that failed before
            // it was accepted concerns only that connection; anything else (out of file
            // descriptors) is logged and retried after a pause
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::error!(error = %e, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = tx.closed() => return,
                }
            }
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            None => {
                // the accepting task ends only when this receiver is gone, so this is not
                // reached; never hand out a connection that is not there
                tracing::error!("the TLS accepting task stopped");
                std::future::pending().await
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(names)
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_certificate_loads_with_its_own_key_only() {
        let (cert, key) = self_signed(&["localhost"]);
        let config = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
        assert_eq!(config.chain_len(), 1);
        let fp = config.fingerprint();
        assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
        assert!(fp.split(':').all(|b| b.len() == 2
            && b.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())));
        let der = certificates_from_pem(cert.as_bytes()).unwrap();
        assert_eq!(fingerprint(&der[0]), fp);

        let (_, other_key) = self_signed(&["localhost"]);
        assert!(matches!(
            TlsConfig::from_pem(cert.as_bytes(), other_key.as_bytes()),
            Err(TlsError::KeyMismatch)
        ));
        assert!(matches!(
            TlsConfig::from_pem(b"", key.as_bytes()),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            TlsConfig::from_pem(key.as_bytes(), key.as_bytes()),
            Err(TlsError::NoCertificate)
        ));
        assert!(matches!(
            TlsConfig::from_pem(cert.as_bytes(), cert.as_bytes()),
            Err(TlsError::NoKey)
        ));
        let cut = &cert[..cert.len() - 30];
        assert!(matches!(
            TlsConfig::from_pem(cut.as_bytes(), key.as_bytes()),
            Err(TlsError::Pem(_))
        ));
    }
}
