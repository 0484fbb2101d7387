//! Settings: defaults, then a TOML file, then `PEACEPATROL_*` environment variables, then
//! command-line flags (clap reads flag and environment together, flag first).

use clap::Args;
use figment::providers::{Format as _, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The settings every server command shares.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://PATH` or `postgres://…`; default: `sqlite://<data_dir>/peacepatrol.db`.
    pub database_url: Option<String>,
    /// Address to listen on.
    pub listen: String,
    /// Where the SQLite file and uploaded photos live.
    pub data_dir: PathBuf,
    /// The URL phones reach this server at (join links in QR codes); default `http://<listen>`
    /// (`https://<listen>` with TLS).
    pub public_url: Option<String>,
    /// How long a login lasts.
    pub session_ttl_days: i64,
    /// How long a QR join token lasts.
    pub join_token_ttl_minutes: i64,
    /// Raw positions older than this many days are purged (ledger and outcomes stay).
    pub retention_days: u32,
    /// Seconds between rounds of the background jobs (finishing overdue patrols, retention).
    pub job_interval_secs: u64,
    /// Heat map cells with fewer distinct envoys are hidden from all but the command centre.
    pub heat_min_envoys: u32,
    /// Envoys a dispatch alerts beyond those it needs (some decline or do not answer).
    pub dispatch_overfill: u32,
    /// Seconds an alert waits for an answer before it passes to the next nearest envoy.
    pub dispatch_alert_timeout_secs: u32,
    /// Seconds a dispatch waits for enough acceptances before its radius doubles.
    pub dispatch_escalate_secs: u32,
    /// The widest a dispatch's radius grows (metres, at most 50,000).
    pub dispatch_max_radius_m: f64,
    /// Whether Open311 clients read service requests without an `api_key` (the
    /// specification's default); `false` makes reads need a key and show only what its user
    /// may see.
    pub open311_public_reads: bool,
    /// Base map tiles of the web apps' maps: an XYZ URL template (`{z}/{x}/{y}`, optional
    /// `{s}`) of WGS-84-aligned Web Mercator tiles; empty: no base tiles (the maps still show
    /// their layers, e.g. on a LAN without internet).
    pub map_tiles: String,
    /// The attribution the tiles' licence asks for, shown on the map.
    pub map_attribution: String,
    /// HTTPS with this certificate chain (PEM, leaf first); needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM: PKCS#8, RSA or SEC1).
    pub tls_key: Option<PathBuf>,
    /// HTTPS with a self-signed certificate for this machine's names, made on the first run
    /// and kept under `<data_dir>/tls/`.
    pub tls_self_signed: bool,
    /// How log lines are written to stderr: `text` for people, `json` for log shippers.
    pub log_format: LogFormat,
}

/// How log lines are written (see [`crate::logging`]): `text`, one line per event for a person
/// to read, coloured only on a terminal; or `json`, one JSON object per line (time, level,
/// target, message and fields) for log shippers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    // (no doc comments on the values: clap would show every command's help in its long form)
    #[default]
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        let policy = pp_domain::dispatch::DispatchPolicy::default();
        Settings {
            database_url: None,
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("data"),
            public_url: None,
            session_ttl_days: 30,
            join_token_ttl_minutes: 15,
            retention_days: pp_server::state::DEFAULT_RETENTION_DAYS,
            job_interval_secs: 30,
            heat_min_envoys: pp_domain::heat::DEFAULT_MIN_ENVOYS,
            dispatch_overfill: policy.overfill,
            dispatch_alert_timeout_secs: secs(policy.alert_timeout),
            dispatch_escalate_secs: secs(policy.escalate_after),
            dispatch_max_radius_m: policy.max_radius_m,
            open311_public_reads: true,
            map_tiles: DEFAULT_MAP_TILES.to_owned(),
            map_attribution: DEFAULT_MAP_ATTRIBUTION.to_owned(),
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            log_format: LogFormat::Text,
        }
    }
}

/// OpenStreetMap's standard tiles (WGS-84 aligned, unlike GCJ-02 tiles of mainland providers).
pub const DEFAULT_MAP_TILES: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
/// What OpenStreetMap's tile usage policy asks maps to show.
pub const DEFAULT_MAP_ATTRIBUTION: &str = "© OpenStreetMap contributors";

fn secs(d: chrono::Duration) -> u32 {
    u32::try_from(d.num_seconds()).unwrap_or(u32::MAX)
}

/// Flags (and their environment variables) that override the config file.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct SettingsArgs {
    /// Config file (TOML with the keys of `peacepatrol config default`); default
    /// `peacepatrol.toml` when it exists.
    #[arg(long, env = "PEACEPATROL_CONFIG", global = true)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "PEACEPATROL_DATABASE_URL", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Listen address, e.g. 127.0.0.1:8080 or 0.0.0.0:8443.
    #[arg(long, env = "PEACEPATROL_LISTEN", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Data directory (SQLite file, photos).
    #[arg(long, env = "PEACEPATROL_DATA_DIR", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Public URL for join links (QR codes), e.g. https://patrol.example.org.
    #[arg(long, env = "PEACEPATROL_PUBLIC_URL", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Base map tile URL template of the web apps; "" for none (offline LAN).
    #[arg(long, env = "PEACEPATROL_MAP_TILES", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_tiles: Option<String>,
    /// Log lines as `text` (default; coloured only on a terminal) or `json` (one object a line).
    #[arg(long, env = "PEACEPATROL_LOG_FORMAT", global = true, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// The HTTPS flags of `serve` and `demo` (and their environment variables), over the config
/// file's `tls_*` keys.
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct TlsArgs {
    /// Serve HTTPS with this certificate (PEM; the chain may follow the leaf). Needs --tls-key.
    #[arg(long, env = "PEACEPATROL_TLS_CERT", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, RSA or SEC1).
    #[arg(long, env = "PEACEPATROL_TLS_KEY", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a self-signed certificate for this machine's names, made on the
    /// first run and kept under <data-dir>/tls/ (so phones that trusted it keep trusting it).
    #[arg(
        long,
        env = "PEACEPATROL_TLS_SELF_SIGNED",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_self_signed: bool,
}

impl SettingsArgs {
    /// The log format, before the command loads its settings: the flag or variable, else the
    /// config file's `log_format` (settings that do not load leave the default: the command
    /// reports why when it loads them).
    pub fn log_format(&self) -> LogFormat {
        self.log_format
            .or_else(|| self.load().ok().map(|s| s.log_format))
            .unwrap_or_default()
    }

    /// Layers defaults, the config file, and these flags/environment values.
    pub fn load(&self) -> anyhow::Result<Settings> {
        self.load_with(&TlsArgs::default())
    }

    /// [`SettingsArgs::load`] with the HTTPS flags of `serve` and `demo` on top.
    pub fn load_with(&self, tls: &TlsArgs) -> anyhow::Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match &self.config {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "config file {} does not exist",
                    path.display()
                );
                fig = fig.merge(Toml::file(path));
            }
            None => fig = fig.merge(Toml::file("peacepatrol.toml")),
        }
        let settings: Settings = fig
            .merge(Serialized::defaults(self))
            .merge(Serialized::defaults(tls))
            .extract()?;
        anyhow::ensure!(
            settings.session_ttl_days > 0,
            "session_ttl_days must be positive"
        );
        anyhow::ensure!(
            settings.join_token_ttl_minutes > 0,
            "join_token_ttl_minutes must be positive"
        );
        anyhow::ensure!(
            settings.retention_days > 0,
            "retention_days must be positive"
        );
        anyhow::ensure!(
            settings.job_interval_secs > 0,
            "job_interval_secs must be positive"
        );
        settings.dispatch_policy().validate()?;
        let tiles = settings.map_tiles.trim();
        anyhow::ensure!(
            tiles.is_empty()
                || ((tiles.starts_with("https://") || tiles.starts_with("http://"))
                    && ["{z}", "{x}", "{y}"].iter().all(|p| tiles.contains(p))),
            "map_tiles must be empty or an http(s) URL template with {{z}}, {{x}} and {{y}}, not {tiles:?}"
        );
        settings.check_tls()?;
        Ok(settings)
    }
}

impl Settings {
    /// Whether `serve` speaks HTTPS.
    pub fn tls_enabled(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some()
    }

    /// The HTTPS settings are one of: none, a certificate with its key, or self-signed.
    fn check_tls(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            !(self.tls_self_signed && (self.tls_cert.is_some() || self.tls_key.is_some())),
            "--tls-self-signed (tls_self_signed) makes its own certificate: give either it or \
             --tls-cert with --tls-key (tls_cert, tls_key), not both"
        );
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => anyhow::bail!(
                "--tls-cert (tls_cert) needs --tls-key (tls_key): the certificate's private key"
            ),
            (None, Some(_)) => anyhow::bail!(
                "--tls-key (tls_key) needs --tls-cert (tls_cert): the certificate of that key"
            ),
            _ => Ok(()),
        }
    }

    /// How dispatches alert, time out and widen.
    pub fn dispatch_policy(&self) -> pp_domain::dispatch::DispatchPolicy {
        pp_domain::dispatch::DispatchPolicy {
            overfill: self.dispatch_overfill,
            alert_timeout: chrono::Duration::seconds(i64::from(self.dispatch_alert_timeout_secs)),
            escalate_after: chrono::Duration::seconds(i64::from(self.dispatch_escalate_secs)),
            max_radius_m: self.dispatch_max_radius_m,
        }
    }

    /// The database URL, defaulting to a SQLite file named `file` under the data dir.
    pub fn database_url_or(&self, file: &str) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join(file).display()))
    }

    /// The public URL without a trailing slash; by default `http://<bound>`, or
    /// `https://<bound>` when TLS is on.
    pub fn public_url_for(&self, bound: std::net::SocketAddr) -> String {
        let scheme = if self.tls_enabled() { "https" } else { "http" };
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{bound}"))
            .trim_end_matches('/')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure type")]
    fn precedence_is_flags_then_env_then_file_then_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "peacepatrol.toml",
                "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/pp\"\nsession_ttl_days = 7",
            )?;
            let from_file = SettingsArgs::default().load().map_err(|e| e.to_string())?;
            assert_eq!(from_file.listen, "0.0.0.0:9000");
            assert_eq!(from_file.data_dir, PathBuf::from("/srv/pp"));
            assert_eq!(from_file.session_ttl_days, 7);
            assert_eq!(from_file.join_token_ttl_minutes, 15, "default kept");
            assert_eq!(from_file.database_url_or("x.db"), "sqlite:///srv/pp/x.db");
            let args = SettingsArgs {
                listen: Some("127.0.0.1:1234".into()),
                ..SettingsArgs::default()
            };
            let flagged = args.load().map_err(|e| e.to_string())?;
            assert_eq!(flagged.listen, "127.0.0.1:1234", "flag beats file");
            assert_eq!(flagged.data_dir, PathBuf::from("/srv/pp"));
            jail.create_file("bad.toml", "listne = \"typo\"")?;
            let bad = SettingsArgs {
                config: Some("bad.toml".into()),
                ..SettingsArgs::default()
            };
            assert!(bad.load().is_err(), "unknown keys are refused");
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure type")]
    fn tls_is_a_certificate_with_its_key_or_self_signed_from_any_source() {
        figment::Jail::expect_with(|jail| {
            let bound: std::net::SocketAddr = "0.0.0.0:8443"
                .parse()
                .map_err(|e: std::net::AddrParseError| e.to_string())?;
            let plain = SettingsArgs::default().load().map_err(|e| e.to_string())?;
            assert!(!plain.tls_enabled());
            assert_eq!(plain.public_url_for(bound), "http://0.0.0.0:8443");

            jail.create_file("peacepatrol.toml", "tls_self_signed = true")?;
            let file = SettingsArgs::default().load().map_err(|e| e.to_string())?;
            assert!(file.tls_self_signed && file.tls_enabled());
            assert_eq!(file.public_url_for(bound), "https://0.0.0.0:8443");
            let given = Settings {
                public_url: Some("https://patrol.example.org/".into()),
                ..file
            };
            assert_eq!(given.public_url_for(bound), "https://patrol.example.org");

            // a flag over the file's self-signed: both is an error, whatever the source
            let both = TlsArgs {
                tls_cert: Some("c.pem".into()),
                tls_key: Some("k.pem".into()),
                tls_self_signed: false,
            };
            let err = SettingsArgs::default().load_with(&both).unwrap_err();
            assert!(err.to_string().contains("not both"), "{err}");

            jail.create_file(
                "peacepatrol.toml",
                "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"",
            )?;
            let pair = SettingsArgs::default().load().map_err(|e| e.to_string())?;
            assert_eq!(pair.tls_cert, Some(PathBuf::from("c.pem")));
            assert_eq!(pair.tls_key, Some(PathBuf::from("k.pem")));
            assert!(pair.tls_enabled());
            let flag = TlsArgs {
                tls_self_signed: true,
                ..TlsArgs::default()
            };
            assert!(SettingsArgs::default().load_with(&flag).is_err());

            jail.create_file("peacepatrol.toml", "tls_key = \"k.pem\"")?;
            let err = SettingsArgs::default().load().unwrap_err();
            assert!(err.to_string().contains("needs --tls-cert"), "{err}");
            let cert = TlsArgs {
                tls_cert: Some("c.pem".into()),
                ..TlsArgs::default()
            };
            let pair = SettingsArgs::default()
                .load_with(&cert)
                .map_err(|e| e.to_string())?;
            assert_eq!(
                (pair.tls_cert, pair.tls_key),
                (Some("c.pem".into()), Some("k.pem".into())),
                "a flag completes the file"
            );
            Ok(())
        });
    }

    #[test]
    #[expect(clippy::result_large_err, reason = "figment::Jail's closure type")]
    fn the_log_format_comes_from_the_flag_the_variable_or_the_file() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(SettingsArgs::default().log_format(), LogFormat::Text);
            jail.create_file("peacepatrol.toml", "log_format = \"json\"")?;
            assert_eq!(SettingsArgs::default().log_format(), LogFormat::Json);
            let flag = SettingsArgs {
                log_format: Some(LogFormat::Text),
                ..SettingsArgs::default()
            };
            assert_eq!(
                flag.log_format(),
                LogFormat::Text,
                "the flag beats the file"
            );
            jail.create_file("peacepatrol.toml", "log_format = \"xml\"")?;
            assert!(
                SettingsArgs::default().load().is_err(),
                "an unknown format is refused"
            );
            assert_eq!(
                SettingsArgs::default().log_format(),
                LogFormat::Text,
                "until the command reports the file's error"
            );
            Ok(())
        });
    }
}
