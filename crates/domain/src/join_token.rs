//! Join tokens: what the leader's QR code carries. A token names a team and an expiry and is
//! signed with HMAC-SHA256 under the server's secret, so it cannot be forged or stretched.
//! Format: base64url(team uuid ‖ expiry as big-endian Unix seconds) `.` base64url(first 16
//! bytes of the MAC) — about 55 characters, small enough for a robust QR code.

use crate::time::Timestamp;
use crate::{DomainError, DomainResult, TeamId};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a join token lives by default.
pub const DEFAULT_TTL_SECS: i64 = 15 * 60;
const MAC_LEN: usize = 16;

fn mac(secret: &[u8], payload: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("hmac accepts any key length"));
    m.update(payload);
    m
}

/// Signs a token for `team` that expires at `expires_at`.
pub fn sign(secret: &[u8], team: TeamId, expires_at: Timestamp) -> String {
    let mut payload = Vec::with_capacity(24);
    payload.extend_from_slice(team.0.as_bytes());
    payload.extend_from_slice(&expires_at.timestamp().to_be_bytes());
    let tag = mac(secret, &payload).finalize().into_bytes();
    format!("{}.{}", B64.encode(&payload), B64.encode(&tag[..MAC_LEN]))
}

/// Checks a token's signature and expiry and returns the team it names.
pub fn verify(secret: &[u8], token: &str, now: Timestamp) -> DomainResult<TeamId> {
    let invalid = || {
        DomainError::invalid(
            "invalid_join_token",
            "this join code is not valid: scan the leader's current QR code again",
        )
    };
    let (payload_b64, tag_b64) = token.trim().split_once('.').ok_or_else(invalid)?;
    let payload = B64.decode(payload_b64).map_err(|_| invalid())?;
    let tag = B64.decode(tag_b64).map_err(|_| invalid())?;
    if payload.len() != 24 || tag.len() != MAC_LEN {
        return Err(invalid());
    }
    mac(secret, &payload)
        .verify_truncated_left(&tag)
        .map_err(|_| invalid())?;
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&payload[..16]);
    let mut exp = [0u8; 8];
    exp.copy_from_slice(&payload[16..]);
    if i64::from_be_bytes(exp) < now.timestamp() {
        return Err(DomainError::invalid(
            "join_token_expired",
            "this join code has expired: ask the leader to show the QR code again",
        ));
    }
    Ok(TeamId(uuid::Uuid::from_bytes(uuid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Clock as _, SystemClock};
    use chrono::Duration;
    use proptest::prelude::*;

    #[test]
    fn round_trip_expiry_and_forgery() {
        let now = SystemClock.now();
        let team = TeamId::new();
        let t = sign(b"secret", team, now + Duration::minutes(15));
        assert!(t.len() < 64, "{t}");
        assert_eq!(verify(b"secret", &t, now).unwrap(), team);
        assert_eq!(
            verify(b"other", &t, now).unwrap_err().code(),
            "invalid_join_token"
        );
        assert_eq!(
            verify(b"secret", &t, now + Duration::minutes(16))
                .unwrap_err()
                .code(),
            "join_token_expired"
        );
        // a token re-signed for another team with the wrong key is refused
        let forged = sign(b"guess", TeamId::new(), now + Duration::days(1));
        assert_eq!(
            verify(b"secret", &forged, now).unwrap_err().code(),
            "invalid_join_token"
        );
        for junk in ["", ".", "abc", "abc.def", "ðŸ.x"] {
            assert_eq!(
                verify(b"secret", junk, now).unwrap_err().code(),
                "invalid_join_token"
            );
        }
    }

    proptest! {
        #[test]
        fn any_tampering_is_refused(pos in 0usize..40, bit in 0u8..6) {
            let now = SystemClock.now();
            let t = sign(b"k", TeamId::new(), now + Duration::minutes(5));
            let mut bytes = t.into_bytes();
            let i = pos % bytes.len();
            if bytes[i] == b'.' { return Ok(()); }
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let cur = alphabet.iter().position(|&c| c == bytes[i]).unwrap();
            bytes[i] = alphabet[(cur + 1 + usize::from(bit)) % 64];
            let tampered = String::from_utf8(bytes).unwrap();
            prop_assert!(verify(b"k", &tampered, now).is_err());
        }
    }
}
