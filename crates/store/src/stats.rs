//! District statistics: the [`StatsStore`] trait (its figures are `pp_domain::stats::Tally`).

use crate::StoreResult;
use async_trait::async_trait;
use pp_domain::stats::Tally;
use pp_domain::time::Timestamp;

/// District statistics, counted from the stored records.
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// What happened in `[from, to)` (see [`Tally`]'s fields), read in one snapshot.
    async fn stats_tally(&self, from: Timestamp, to: Timestamp) -> StoreResult<Tally>;
}
