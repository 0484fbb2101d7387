//! The self-signed certificate kept under `<data_dir>/tls/`: served while it covers this
//! machine's names and has time left ([`plan`]), made anew otherwise (keeping the names it
//! had), its key readable by its owner only.

use super::cert::{make, CertInfo};
use super::names::Names;
use super::served::Served;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use pp_server::tls::TlsConfig;
use std::path::{Path, PathBuf};

/// A kept certificate with fewer days left than this is made anew.
const RENEW_DAYS: i64 = 30;

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
            return Ok(Served::new(config, line));
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
    Ok(Served::new(config, line))
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
    use super::super::cert::VALID_DAYS;
    use super::super::names::testing::names;
    use super::*;

    use pp_domain::time::{Clock as _, SystemClock};
    #[test]
    fn a_stored_certificate_is_kept_while_it_covers_the_names_and_is_not_near_its_end() {
        let now = SystemClock.now();
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
        let now = SystemClock.now();
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
