//! Accounts: phone numbers, names, passwords and session tokens.

use crate::{DomainError, DomainResult, Role};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Shortest accepted password.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password (argon2 accepts more; this bounds the work per login).
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest display name.
pub const MAX_NAME_CHARS: usize = 50;

/// A phone number in E.164 form (`+8613800138000`). Mainland numbers may be given as the
/// 11-digit national form (`13800138000`) and are stored as `+86…`, so both forms name the
/// same account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Parses an 11-digit mainland mobile number (`1[3-9]` then 9 digits) or an E.164 number
    /// (`+`, country code, 8 to 15 digits in all). Spaces and dashes are ignored.
    pub fn parse(raw: &str) -> DomainResult<Phone> {
        let s: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits_only = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if s.len() == 11
            && digits_only(&s)
            && s.as_bytes()[0] == b'1'
            && (b'3'..=b'9').contains(&s.as_bytes()[1])
        {
            return Ok(Phone(format!("+86{s}")));
        }
        if let Some(rest) = s.strip_prefix('+') {
            if (8..=15).contains(&rest.len()) && digits_only(rest) && !rest.starts_with('0') {
                if let Some(national) = rest.strip_prefix("86") {
                    // a Chinese E.164 mobile number must still be a valid mainland mobile
                    if national.len() == 11
                        && !(national.starts_with('1')
                            && (b'3'..=b'9').contains(&national.as_bytes()[1]))
                    {
                        return Err(bad_phone(raw));
                    }
                }
                return Ok(Phone(s));
            }
        }
        Err(bad_phone(raw))
    }

    /// The E.164 string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value read back from the store (already validated when written).
    pub fn from_trusted(s: String) -> Phone {
        Phone(s)
    }
}

fn bad_phone(raw: &str) -> DomainError {
    DomainError::invalid(
        "invalid_phone",
        format!("{raw:?} is not a phone number: give an 11-digit mainland mobile number (13800138000) or an E.164 number (+8613800138000)"),
    )
}

/// Trims and checks a display name (1 to 50 characters, no control characters).
pub fn parse_name(raw: &str) -> DomainResult<String> {
    let name = raw.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "invalid_name",
            format!("a name is 1 to {MAX_NAME_CHARS} characters without control characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Checks a new password's length.
pub fn check_password(pw: &str) -> DomainResult<()> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(DomainError::invalid(
            "password_too_short",
            format!("a password needs at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(DomainError::invalid(
            "password_too_long",
            format!("a password has at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id (the crate's default parameters) and a random salt, as a
/// PHC string.
pub fn hash_password(pw: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(pw.as_bytes(), &salt)
        .map(|h| h.to_string())
        // argon2 fails only on parameter errors, which the defaults cannot produce
        .unwrap_or_default()
}

/// Checks a password against a PHC hash; a malformed hash never matches.
pub fn verify_password(pw: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
}

/// A random password for accounts made from the CLI without one (16 characters, base64url).
pub fn generate_password() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A bearer token: 32 random bytes, given to the client once; the store keeps only its
/// SHA-256, so a leaked database does not leak sessions.
pub fn generate_session_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a session token.
pub fn session_token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A validated new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// E.164 phone
    pub phone: Phone,
    /// display name
    pub name: String,
    /// role
    pub role: Role,
    /// argon2id PHC string
    pub password_hash: String,
    /// department name, for staff
    pub department: Option<String>,
}

impl NewUser {
    /// Validates and hashes a registration or an account made by an admin. Staff must name
    /// their department; other roles must not.
    pub fn new(
        phone: &str,
        name: &str,
        password: &str,
        role: Role,
        department: Option<String>,
    ) -> DomainResult<NewUser> {
        let phone = Phone::parse(phone)?;
        let name = parse_name(name)?;
        check_password(password)?;
        let department = department
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty());
        match (role, &department) {
            (Role::Staff, None) => {
                return Err(DomainError::invalid(
                    "department_required",
                    "staff accounts need a department",
                ))
            }
            (Role::Envoy | Role::Commander | Role::Admin, Some(_)) => {
                return Err(DomainError::invalid(
                    "department_not_allowed",
                    "only staff accounts belong to a department",
                ))
            }
            _ => {}
        }
        Ok(NewUser {
            phone,
            name,
            role,
            password_hash: hash_password(password),
            department,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert_eq!(
            Phone::parse("13800138000").unwrap().as_str(),
            "+8613800138000"
        );
        assert_eq!(
            Phone::parse("138-0013-8000").unwrap().as_str(),
            "+8613800138000"
        );
        assert_eq!(
            Phone::parse("+8613800138000").unwrap().as_str(),
            "+8613800138000"
        );
        assert_eq!(
            Phone::parse("+442071838750").unwrap().as_str(),
            "+442071838750"
        );
        for bad in [
            "",
            "12800138000",
            "1380013800",
            "138001380001",
            "+0123456789",
            "+12",
            "abc",
            "+86123",
        ] {
            assert_eq!(
                Phone::parse(bad).unwrap_err().code(),
                "invalid_phone",
                "{bad}"
            );
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        assert_eq!(
            check_password("short").unwrap_err().code(),
            "password_too_short"
        );
        assert!(check_password("long enough").is_ok());
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn names_and_departments() {
        assert_eq!(parse_name("  张三 ").unwrap(), "张三");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(51)).is_err());
        let e = NewUser::new("13800138000", "A", "password1", Role::Staff, None).unwrap_err();
        assert_eq!(e.code(), "department_required");
        let e = NewUser::new(
            "13800138000",
            "A",
            "password1",
            Role::Envoy,
            Some("x".into()),
        )
        .unwrap_err();
        assert_eq!(e.code(), "department_not_allowed");
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = generate_session_token();
        assert_ne!(a, generate_session_token());
        assert_eq!(session_token_hash(&a).len(), 32);
        assert_eq!(generate_password().len(), 16);
    }
}
