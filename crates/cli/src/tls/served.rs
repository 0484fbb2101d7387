//! The certificate `serve` uses and the lines it prints about it.

use pp_server::tls::TlsConfig;

/// The certificate `serve` uses, with the lines to print at start.
pub struct Served {
    /// the certificate and key
    pub config: TlsConfig,
    /// where it came from, then its fingerprint
    pub lines: Vec<String>,
}

impl Served {
    /// `config`, printed as `line` (where it came from) and its fingerprint.
    pub fn new(config: TlsConfig, line: String) -> Served {
        let fingerprint = format!("TLS: SHA-256 fingerprint {}", config.fingerprint());
        Served {
            lines: vec![line, fingerprint],
            config,
        }
    }
}
