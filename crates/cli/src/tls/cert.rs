//! A certificate: what it says of itself ([`CertInfo`]), and a self-signed one made for a
//! machine's names ([`make`]).

use super::names::Names;
use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Utc};
use std::net::IpAddr;

/// Days a self-signed certificate is valid: iOS refuses TLS server certificates valid for
/// more than 825 days.
pub const VALID_DAYS: i64 = 800;

/// What a certificate says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// its subject alternative names
    pub names: Names,
    /// the end of its validity
    pub not_after: DateTime<Utc>,
}

impl CertInfo {
    /// Reads a certificate (DER).
    pub fn parse(der: &[u8]) -> anyhow::Result<CertInfo> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| anyhow::anyhow!("not an X.509 certificate: {e}"))?;
        let mut names = Names::default();
        if let Some(san) = cert
            .subject_alternative_name()
            .map_err(|e| anyhow::anyhow!("bad subject alternative names: {e}"))?
        {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => {
                        names.dns.insert(dns.to_ascii_lowercase());
                    }
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                            names.ips.insert(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                            names.ips.insert(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        }
        let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
            .context("the certificate's end of validity is out of range")?;
        Ok(CertInfo { names, not_after })
    }
}

/// A self-signed certificate (ECDSA P-256) for `names`, valid from a day before `now` (phones
/// whose clocks lag) for [`VALID_DAYS`], as PEM certificate and PEM (PKCS#8) key.
pub fn make(names: &Names, host: &str, now: DateTime<Utc>) -> anyhow::Result<(String, String)> {
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
        KeyUsagePurpose, SanType, SerialNumber,
    };
    let ymd = |t: DateTime<Utc>| -> anyhow::Result<(i32, u8, u8)> {
        Ok((t.year(), u8::try_from(t.month())?, u8::try_from(t.day())?))
    };
    let (from, until) = (
        ymd(now - chrono::Duration::days(1))?,
        ymd(now + chrono::Duration::days(VALID_DAYS))?,
    );
    let mut params = CertificateParams::default();
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(until.0, until.1, until.2);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("Peace Patrol on {host}"));
    dn.push(DnType::OrganizationName, "Peace Patrol (self-signed)");
    params.distinguished_name = dn;
    for dns in &names.dns {
        params.subject_alt_names.push(SanType::DnsName(
            dns.clone()
                .try_into()
                .with_context(|| format!("not a DNS name: {dns}"))?,
        ));
    }
    params
        .subject_alt_names
        .extend(names.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // a new serial each time: browsers refuse two certificates of one issuer and serial
    let mut serial: [u8; 16] = rand::random();
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    let key = KeyPair::generate().context("cannot make a key pair")?;
    let cert = params
        .self_signed(&key)
        .context("cannot make a certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}
