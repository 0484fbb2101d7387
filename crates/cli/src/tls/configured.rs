//! The configured certificate chain and key (`--tls-cert`, `--tls-key`).

use super::cert::CertInfo;
use super::served::Served;
use anyhow::Context as _;
use pp_domain::time::{Clock as _, SystemClock};
use pp_server::tls::{certificates_from_pem, private_key_from_pem, TlsConfig, TlsError};
use std::path::Path;

/// The configured certificate chain and key, every fault named with its file.
pub fn configured(cert_path: &Path, key_path: &Path) -> anyhow::Result<Served> {
    let cert_pem = std::fs::read(cert_path)
        .with_context(|| format!("--tls-cert {}: cannot read it", cert_path.display()))?;
    let key_pem = std::fs::read(key_path)
        .with_context(|| format!("--tls-key {}: cannot read it", key_path.display()))?;
    let chain = certificates_from_pem(&cert_pem)
        .with_context(|| format!("--tls-cert {}", cert_path.display()))?;
    let key = private_key_from_pem(&key_pem)
        .with_context(|| format!("--tls-key {}", key_path.display()))?;
    let config = TlsConfig::new(chain, key).map_err(|e| match e {
        TlsError::KeyMismatch => anyhow::anyhow!(
            "--tls-key {} is not the key of --tls-cert {}: {e}",
            key_path.display(),
            cert_path.display()
        ),
        e => anyhow::anyhow!(
            "--tls-cert {} with --tls-key {}: {e}",
            cert_path.display(),
            key_path.display()
        ),
    })?;
    let mut line = format!(
        "TLS: certificate {} ({} in the chain), key {}",
        cert_path.display(),
        config.chain_len(),
        key_path.display()
    );
    if let Ok(info) = CertInfo::parse(config.leaf()) {
        line.push_str(&format!(", for {}", info.names));
        if info.not_after <= SystemClock.now() {
            line.push_str(&format!(
                "; WARNING: it expired on {}",
                info.not_after.format("%Y-%m-%d")
            ));
        } else {
            line.push_str(&format!(
                ", valid until {}",
                info.not_after.format("%Y-%m-%d")
            ));
        }
    }
    Ok(Served::new(config, line))
}
