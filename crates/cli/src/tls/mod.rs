//! HTTPS for `serve` and `demo`: the configured certificate and key ([`configured`]), or a
//! self-signed certificate for this machine's names ([`names`]), made on the first run and
//! kept under `<data_dir>/tls/` so that phones that trusted it keep trusting it
//! ([`self_signed`], [`cert`]).

mod cert;
mod configured;
mod names;
mod self_signed;
mod served;

pub use served::Served;

use crate::config::Settings;
use names::Names;
use pp_domain::time::{Clock as _, SystemClock};
use std::net::SocketAddr;

/// The HTTPS certificate the settings ask for, if any. `bound` is the listening address.
pub fn setup(settings: &Settings, bound: SocketAddr) -> anyhow::Result<Option<Served>> {
    if settings.tls_self_signed {
        let dir = settings.data_dir.join("tls");
        let wanted = Names::of_this_machine(bound.ip());
        return self_signed::self_signed(&dir, &wanted, SystemClock.now()).map(Some);
    }
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => configured::configured(cert, key).map(Some),
        // Settings::check_tls refuses one without the other
        _ => Ok(None),
    }
}
