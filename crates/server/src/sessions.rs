//! A short-lived cache of signed-in sessions, so that a phone posting a position every few
//! seconds does not cost a database read per request.
//!
//! An entry lives [`CACHE_TTL_SECS`] by the server's clock. Logging out evicts it on this node
//! at once; on a cluster another node may still accept the token for up to that long, and a
//! session that expires meanwhile may be honoured for up to that long past its end.

use pp_domain::time::Timestamp;
use pp_store::User;
use std::collections::HashMap;
use std::sync::RwLock;

/// How long a looked-up session is trusted without asking the store again, in seconds.
pub const CACHE_TTL_SECS: i64 = 30;
/// Most cached sessions; when full the cache starts afresh (bounded memory, no bookkeeping).
const MAX_ENTRIES: usize = 200_000;

/// Session token hash → (user, when it was looked up).
#[derive(Debug, Default)]
pub struct SessionCache {
    entries: RwLock<HashMap<Vec<u8>, (User, Timestamp)>>,
}

impl SessionCache {
    /// The cached user of a session looked up less than [`CACHE_TTL_SECS`] ago.
    pub fn get(&self, token_hash: &[u8], now: Timestamp) -> Option<User> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (user, at) = entries.get(token_hash)?;
        let age = now - *at;
        (age >= chrono::Duration::zero() && age < chrono::Duration::seconds(CACHE_TTL_SECS))
            .then(|| user.clone())
    }

    /// Remembers a session the store vouched for at `now`.
    pub fn put(&self, token_hash: &[u8], user: User, now: Timestamp) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(token_hash.to_vec(), (user, now));
    }

    /// Forgets a session (logout).
    pub fn remove(&self, token_hash: &[u8]) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};
    use pp_domain::account::Phone;
    use pp_domain::{Role, UserId};

    #[test]
    fn entries_expire_by_the_servers_clock() {
        let now = Utc.with_ymd_and_hms(2026, 10, 1, 10, 0, 0).unwrap();
        let user = User {
            id: UserId::new(),
            phone: Phone::parse("13800000000").unwrap(),
            name: "x".to_owned(),
            role: Role::Envoy,
            department: None,
            created_at: now,
        };
        let cache = SessionCache::default();
        cache.put(b"h", user.clone(), now);
        assert_eq!(cache.get(b"h", now + Duration::seconds(29)), Some(user));
        assert_eq!(cache.get(b"h", now + Duration::seconds(30)), None);
        // a clock set back does not resurrect or trust entries from "the future"
        assert_eq!(cache.get(b"h", now - Duration::seconds(1)), None);
        cache.remove(b"h");
        assert_eq!(cache.get(b"h", now), None);
    }
}
