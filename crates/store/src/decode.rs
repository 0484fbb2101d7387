//! Decoding stored values: what a row holds that does not decode is an error, never a guess.

use crate::{StoreError, StoreResult};
use pp_geo::LatLng;

/// The error for a stored value that does not decode; `what` names it.
pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("stored {what} does not decode: {e}"))
}

/// A stored count (counts stay far below `u32::MAX`; one beyond it saturates).
pub(crate) fn count(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// A stored point, checked as any other.
pub(crate) fn lat_lng(lat: f64, lng: f64) -> StoreResult<LatLng> {
    LatLng::new(lat, lng).map_err(|e| corrupt("position", e))
}
