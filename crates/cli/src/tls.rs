//! HTTPS for `serve` and `demo`: the configured certificate and key, or a self-signed
//! certificate for this machine's names, made on the first run and kept under
//! `<data_dir>/tls/` so that phones that trusted it keep trusting it.

use crate::config::Settings;
use anyhow::Context as _;
use chrono::{DateTime, Datelike as _, Utc};
use pp_server::tls::{certificates_from_pem, private_key_from_pem, TlsConfig, TlsError};
use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Days a self-signed certificate is valid: iOS refuses TLS server certificates valid for
/// more than 825 days.
const VALID_DAYS: i64 = 800;
/// A kept certificate with fewer days left than this is made anew.
const RENEW_DAYS: i64 = 30;

/// The certificate `serve` uses, with the lines to print at start.
pub struct Served {
    /// the certificate and key
    pub config: TlsConfig,
    /// where it came from, then its fingerprint
    pub lines: Vec<String>,
}

/// The HTTPS certificate the settings ask for, if any. `bound` is the listening address.
pub fn setup(settings: &Settings, bound: SocketAddr) -> anyhow::Result<Option<Served>> {
    if settings.tls_self_signed {
        let dir = settings.data_dir.join("tls");
        let wanted = Names::of_this_machine(bound.ip());
        return self_signed(&dir, &wanted, Utc::now()).map(Some);
    }
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => configured(cert, key).map(Some),
        // Settings::check_tls refuses one without the other
        _ => Ok(None),
    }
}

/// The configured certificate chain and key, every fault named with its file.
fn configured(cert_path: &Path, key_path: &Path) -> anyhow::Result<Served> {
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
        if info.not_after <= Utc::now() {
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
    Ok(Served {
        lines: vec![line, fingerprint_line(&config)],
        config,
    })
}

fn fingerprint_line(config: &TlsConfig) -> String {
    format!("TLS: SHA-256 fingerprint {}", config.fingerprint())
}

/// The DNS names and IP addresses a certificate is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    /// DNS names, lower case
    pub dns: BTreeSet<String>,
    /// IP addresses
    pub ips: BTreeSet<IpAddr>,
}

impl fmt::Display for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self
            .dns
            .iter()
            .cloned()
            .chain(self.ips.iter().map(IpAddr::to_string))
            .collect();
        f.write_str(&all.join(", "))
    }
}

impl Names {
    /// The names of this machine (see [`Names::machine`]) from its host name and the
    /// addresses of its network interfaces.
    pub fn of_this_machine(listen: IpAddr) -> Names {
        let host = gethostname::gethostname().to_string_lossy().into_owned();
        let addrs = match if_addrs::get_if_addrs() {
            Ok(ifaces) => ifaces.into_iter().map(|i| i.ip()).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the network interfaces' addresses");
                Vec::new()
            }
        };
        // absent on other systems than Linux: nothing is then known to be temporary
        let temporary =
            temporary_ipv6(&std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default());
        Names::machine(Some(&host), &addrs, &temporary, listen)
    }

    /// `localhost`, the host name (and `<host>.local`, its multicast DNS name, for a host
    /// name without a dot), 127.0.0.1, ::1, every address of `addrs` a browser can reach
    /// (not loopback, unspecified, multicast, IPv6 link-local (it needs a zone a URL cannot
    /// carry) nor a `temporary` IPv6 privacy address (it changes every day)), and the
    /// listening address unless it is unspecified.
    pub fn machine(
        host: Option<&str>,
        addrs: &[IpAddr],
        temporary: &BTreeSet<Ipv6Addr>,
        listen: IpAddr,
    ) -> Names {
        let mut names = Names::default();
        names.dns.insert("localhost".to_owned());
        if let Some(host) = host.map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()) {
            if is_dns_name(&host) {
                if !host.contains('.') && host != "localhost" {
                    names.dns.insert(format!("{host}.local"));
                }
                names.dns.insert(host);
            }
        }
        names.ips.insert(IpAddr::V4(Ipv4Addr::LOCALHOST));
        names.ips.insert(IpAddr::V6(Ipv6Addr::LOCALHOST));
        for &ip in addrs {
            let reachable = match ip {
                IpAddr::V4(v4) => !(v4.is_loopback() || v4.is_unspecified() || v4.is_multicast()),
                IpAddr::V6(v6) => {
                    !(v6.is_loopback()
                        || v6.is_unspecified()
                        || v6.is_multicast()
                        || (v6.segments()[0] & 0xffc0) == 0xfe80
                        || temporary.contains(&v6))
                }
            };
            if reachable {
                names.ips.insert(ip);
            }
        }
        if !listen.is_unspecified() {
            names.ips.insert(listen);
        }
        names
    }

    /// The names of `self` that `other` lacks.
    pub fn missing_from(&self, other: &Names) -> Names {
        Names {
            dns: self.dns.difference(&other.dns).cloned().collect(),
            ips: self.ips.difference(&other.ips).copied().collect(),
        }
    }

    /// Whether there is no name.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.ips.is_empty()
    }

    /// Both sets of names.
    pub fn union(&self, other: &Names) -> Names {
        Names {
            dns: self.dns.union(&other.dns).cloned().collect(),
            ips: self.ips.union(&other.ips).copied().collect(),
        }
    }
}

/// A host name usable as a certificate's DNS name: letters, digits and hyphens in labels of
/// 1 to 63 characters.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The temporary (privacy extension) IPv6 addresses listed in Linux's `/proc/net/if_inet6`:
/// lines of the address in 32 hex digits, interface index, prefix length, scope, flags
/// (`IFA_F_TEMPORARY` = 0x01) and interface name.
pub fn temporary_ipv6(if_inet6: &str) -> BTreeSet<Ipv6Addr> {
    const IFA_F_TEMPORARY: u32 = 0x01;
    if_inet6
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (hex, flags) = (fields.first()?, fields.get(4)?);
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let bits = u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)?;
            (flags & IFA_F_TEMPORARY != 0).then(|| Ipv6Addr::from(bits))
        })
        .collect()
}

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

/// What to do with the self-signed certificate in store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Serve the stored one.
    Keep,
    /// Make one for these names; `why` says why the stored one is not kept (`None`: there
    /// was none).
    Make {
        /// names of the new certificate
        names: Names,
        /// why the stored one will not do
        why: Option<String>,
    },
}

/// Keeps the stored certificate while it covers every `wanted` name and has more than
/// [`RENEW_DAYS`] left; a new one keeps the stored one's names too, so that a machine moving
/// between networks does not change its certificate at each move.
pub fn plan(stored: Option<Result<CertInfo, String>>, wanted: &Names, now: DateTime<Utc>) -> Plan {
    let info = match stored {
        None => {
            return Plan::Make {
                names: wanted.clone(),
                why: None,
            }
        }
        Some(Err(e)) => {
            return Plan::Make {
                names: wanted.clone(),
                why: Some(format!("the stored one cannot be used: {e}")),
            }
        }
        Some(Ok(info)) => info,
    };
    let missing = wanted.missing_from(&info.names);
    let why = if !missing.is_empty() {
        format!("the stored one lacks {missing}")
    } else if info.not_after - now < chrono::Duration::days(RENEW_DAYS) {
        format!(
            "the stored one expires on {}",
            info.not_after.format("%Y-%m-%d")
        )
    } else {
        return Plan::Keep;
    };
    Plan::Make {
        names: wanted.union(&info.names),
        why: Some(why),
    }
}

/// The certificate file and key file under `dir`.
pub fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// Serves the certificate kept in `dir`, or makes one there first (see [`plan`]).
pub fn self_signed(dir: &Path, wanted: &Names, now: DateTime<Utc>) -> anyhow::Result<Served> {
    let (cert_path, key_path) = paths(dir);
    let stored = if cert_path.exists() || key_path.exists() {
        Some(load_stored(&cert_path, &key_path))
    } else {
        None
    };
    let (kept, stored) = match stored {
        Some(Ok((config, info))) => (Some(config), Some(Ok(info))),
        Some(Err(e)) => (None, Some(Err(format!("{e:#}")))),
        None => (None, None),
    };
    let (names, why) = match (plan(stored, wanted, now), kept) {
        (Plan::Keep, Some(config)) => {
            let info = CertInfo::parse(config.leaf())?;
            let line = format!(
                "TLS: self-signed certificate {} (kept from an earlier run, valid until {}) for {}",
                cert_path.display(),
                info.not_after.format("%Y-%m-%d"),
                info.names
            );
            return Ok(Served {
                lines: vec![line, fingerprint_line(&config)],
                config,
            });
        }
        // `plan` keeps only what loaded
        (Plan::Keep, None) => (wanted.clone(), None),
        (Plan::Make { names, why }, _) => (names, why),
    };
    let host = wanted
        .dns
        .iter()
        .find(|d| *d != "localhost" && !d.ends_with(".local"))
        .map_or("localhost", String::as_str);
    let (cert_pem, key_pem) = make(&names, host, now)?;
    store(dir, &cert_pem, &key_pem)?;
    let config = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())
        .context("the certificate just made does not load")?;
    let line = match why {
        None => format!(
            "TLS: made a self-signed certificate {} for {names}",
            cert_path.display()
        ),
        Some(why) => format!(
            "TLS: made a new self-signed certificate {} for {names}, as {why}; phones that \
             trusted the old one must accept this one again",
            cert_path.display()
        ),
    };
    Ok(Served {
        lines: vec![line, fingerprint_line(&config)],
        config,
    })
}

fn load_stored(cert_path: &Path, key_path: &Path) -> anyhow::Result<(TlsConfig, CertInfo)> {
    let cert =
        std::fs::read(cert_path).with_context(|| format!("cannot read {}", cert_path.display()))?;
    let key =
        std::fs::read(key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
    let config = TlsConfig::from_pem(&cert, &key)?;
    let info = CertInfo::parse(config.leaf())?;
    Ok((config, info))
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

/// Writes the key (readable by its owner only) and then the certificate, each to a
/// temporary file renamed into place.
fn store(dir: &Path, cert_pem: &str, key_pem: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (cert_path, key_path) = paths(dir);
    write_replacing(&key_path, key_pem.as_bytes(), true)?;
    write_replacing(&cert_path, cert_pem.as_bytes(), false)?;
    Ok(())
}

fn write_replacing(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("pem.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn names(dns: &[&str], ips: &[&str]) -> Names {
        Names {
            dns: dns.iter().map(|d| (*d).to_owned()).collect(),
            ips: ips.iter().map(|i| ip(i)).collect(),
        }
    }

    #[test]
    fn a_machine_is_named_by_host_reachable_addresses_and_listen_address() {
        let temporary: BTreeSet<Ipv6Addr> = ["2001:db8::beef".parse().unwrap()].into();
        let got = Names::machine(
            Some("Patrol-Box\n"),
            &[
                ip("127.0.0.1"),
                ip("192.168.1.20"),
                ip("::1"),
                ip("fe80::1"),
                ip("2001:db8::20"),
                ip("2001:db8::beef"),
                ip("0.0.0.0"),
                ip("224.0.0.1"),
            ],
            &temporary,
            ip("10.0.0.5"),
        );
        assert_eq!(
            got,
            names(
                &["localhost", "patrol-box", "patrol-box.local"],
                &[
                    "127.0.0.1",
                    "::1",
                    "192.168.1.20",
                    "2001:db8::20",
                    "10.0.0.5"
                ]
            )
        );
        let fqdn = Names::machine(Some("pp.district.lan"), &[], &temporary, ip("0.0.0.0"));
        assert_eq!(
            fqdn,
            names(&["localhost", "pp.district.lan"], &["127.0.0.1", "::1"]),
            "an unspecified listen address adds nothing; an FQDN gets no .local"
        );
        let odd = Names::machine(Some("my_host"), &[], &temporary, ip("::"));
        assert_eq!(odd.dns, names(&["localhost"], &[]).dns, "not a DNS name");
        assert_eq!(
            got.to_string(),
            "localhost, patrol-box, patrol-box.local, 10.0.0.5, 127.0.0.1, 192.168.1.20, ::1, 2001:db8::20"
        );
    }

    #[test]
    fn temporary_ipv6_addresses_are_read_from_proc() {
        let text = "\
20010db8000000000000000000000020 02 40 00 00     eth0
20010db800000000000000000000beef 02 40 00 01     eth0
fe800000000000000000000000000001 02 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
garbage line
";
        let got = temporary_ipv6(text);
        assert_eq!(got, ["2001:db8::beef".parse().unwrap()].into());
    }

    #[test]
    fn a_stored_certificate_is_kept_while_it_covers_the_names_and_is_not_near_its_end() {
        let now = Utc::now();
        let wanted = names(&["localhost", "box"], &["127.0.0.1", "192.168.1.20"]);
        assert_eq!(
            plan(None, &wanted, now),
            Plan::Make {
                names: wanted.clone(),
                why: None
            }
        );
        let stored = CertInfo {
            names: names(
                &["localhost", "box", "box.local"],
                &["127.0.0.1", "192.168.1.20", "10.0.0.9"],
            ),
            not_after: now + chrono::Duration::days(400),
        };
        assert_eq!(plan(Some(Ok(stored.clone())), &wanted, now), Plan::Keep);

        let moved = names(&["localhost", "box"], &["127.0.0.1", "172.16.0.3"]);
        match plan(Some(Ok(stored.clone())), &moved, now) {
            Plan::Make {
                names: new,
                why: Some(why),
            } => {
                assert_eq!(why, "the stored one lacks 172.16.0.3");
                assert_eq!(new, stored.names.union(&moved), "old names are kept");
            }
            other => panic!("{other:?}"),
        }
        let ending = CertInfo {
            not_after: now + chrono::Duration::days(RENEW_DAYS - 1),
            ..stored
        };
        assert!(matches!(
            plan(Some(Ok(ending)), &wanted, now),
            Plan::Make { why: Some(why), .. } if why.starts_with("the stored one expires on")
        ));
        assert!(matches!(
            plan(Some(Err("bad".to_owned())), &wanted, now),
            Plan::Make { why: Some(why), .. } if why.contains("bad")
        ));
    }

    #[test]
    fn a_made_certificate_covers_its_names_loads_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        let now = Utc::now();
        let wanted = names(&["localhost", "box"], &["127.0.0.1", "::1", "192.168.1.20"]);
        let first = self_signed(&tls, &wanted, now).unwrap();
        assert!(first.lines[0].starts_with("TLS: made a self-signed certificate"));
        let (cert_path, key_path) = paths(&tls);
        let info = CertInfo::parse(first.config.leaf()).unwrap();
        assert_eq!(info.names, wanted);
        let days = (info.not_after - now).num_days();
        assert!((VALID_DAYS - 1..=VALID_DAYS).contains(&days), "{days}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let pem = std::fs::read(&cert_path).unwrap();

        let again = self_signed(&tls, &wanted, now).unwrap();
        assert_eq!(again.config.fingerprint(), first.config.fingerprint());
        assert!(again.lines[0].contains("kept from an earlier run"));
        assert_eq!(std::fs::read(&cert_path).unwrap(), pem, "not rewritten");

        let more = names(&["localhost", "box"], &["127.0.0.1", "10.1.2.3"]);
        let renewed = self_signed(&tls, &more, now).unwrap();
        assert_ne!(renewed.config.fingerprint(), first.config.fingerprint());
        assert!(
            renewed.lines[0].contains("lacks 10.1.2.3"),
            "{}",
            renewed.lines[0]
        );
        assert_eq!(
            CertInfo::parse(renewed.config.leaf()).unwrap().names,
            wanted.union(&more)
        );

        // a key that is not the certificate's: made anew, with the reason
        std::fs::write(&key_path, make(&more, "box", now).unwrap().1).unwrap();
        let fixed = self_signed(&tls, &more, now).unwrap();
        assert!(
            fixed.lines[0].contains("does not match"),
            "{}",
            fixed.lines[0]
        );
    }
}
