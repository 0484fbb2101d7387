//! Bulk onboarding: envoys imported from a CSV file (`phone,name`) wait, pending, until they
//! activate their account with the one-time code the import issued (it goes out by SMS) and a
//! password of their choice. No password is hashed at import time; each code is kept only as
//! a salted SHA-256.

use crate::account::{parse_name, Phone};
use rand::Rng as _;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

/// Digits of a one-time activation code.
pub const CODE_DIGITS: usize = 8;
/// Days an activation code stays valid by default.
pub const DEFAULT_CODE_TTL_DAYS: i64 = 14;
/// Wrong codes after which an account's code is void (a re-import issues a new one).
pub const MAX_ACTIVATION_ATTEMPTS: i32 = 5;
/// The settings key of the server-side salt of activation code hashes.
pub const CODE_SALT_KEY: &str = "activation_code_salt";

/// A fresh random code of [`CODE_DIGITS`] digits.
pub fn generate_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_DIGITS)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// The stored form of an activation code: SHA-256 of the server's salt, the phone and the
/// code (so the same code for two phones hashes differently).
pub fn code_hash(salt: &[u8], phone: &Phone, code: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(phone.as_str().as_bytes());
    h.update(b":");
    h.update(code.trim().as_bytes());
    h.finalize().to_vec()
}

/// A valid row of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// line number in the file (the header is line 1)
    pub line: u64,
    /// the phone as given
    pub given: String,
    /// normalised phone
    pub phone: Phone,
    /// checked name
    pub name: String,
}

/// A row the import refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Refused {
    /// line number in the file (the header is line 1)
    pub line: u64,
    /// the phone as given
    pub phone: String,
    /// `invalid_phone`, `invalid_name`, `invalid_row`, `duplicate_in_file`, `phone_taken`
    pub code: String,
    /// why, in words
    pub message: String,
}

impl Refused {
    /// A refusal for a row that named an existing account.
    pub fn phone_taken(row: &ImportRow) -> Refused {
        Refused {
            line: row.line,
            phone: row.given.clone(),
            code: "phone_taken".to_owned(),
            message: "an account with this phone exists already".to_owned(),
        }
    }
}

/// Reads an import file: a header row naming `phone` and `name` (other columns are ignored),
/// UTF-8, quoted fields allowed. Each row is checked with the rules of registration; a phone
/// seen on an earlier line is refused as `duplicate_in_file`. A file without those columns is
/// an error (`invalid_csv`).
pub fn parse_csv(data: &[u8]) -> crate::DomainResult<(Vec<ImportRow>, Vec<Refused>)> {
    let bad = |m: String| crate::DomainError::invalid("invalid_csv", m);
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("cannot read the header row: {e}")))?
        .clone();
    let col = |want: &str| {
        headers
            .iter()
            .position(|h| h.eq_ignore_ascii_case(want))
            .ok_or_else(|| {
                bad(format!(
                    "the header row has no {want:?} column (it needs phone,name)"
                ))
            })
    };
    let (pc, nc) = (col("phone")?, col("name")?);
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    let mut seen: HashMap<Phone, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                refused.push(Refused {
                    line,
                    phone: String::new(),
                    code: "invalid_row".to_owned(),
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let raw_phone = record.get(pc).unwrap_or("");
        let refuse = |code: &str, message: String| Refused {
            line,
            phone: raw_phone.to_owned(),
            code: code.to_owned(),
            message,
        };
        let phone = match Phone::parse(raw_phone) {
            Ok(p) => p,
            Err(e) => {
                refused.push(refuse(e.code(), e.to_string()));
                continue;
            }
        };
        let name = match parse_name(record.get(nc).unwrap_or("")) {
            Ok(n) => n,
            Err(e) => {
                refused.push(refuse(e.code(), e.to_string()));
                continue;
            }
        };
        if let Some(first) = seen.get(&phone) {
            refused.push(refuse(
                "duplicate_in_file",
                format!("this phone is on line {first} already"),
            ));
            continue;
        }
        seen.insert(phone.clone(), line);
        rows.push(ImportRow {
            line,
            given: raw_phone.to_owned(),
            phone,
            name,
        });
    }
    Ok((rows, refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_digits_and_hashed_per_phone() {
        let c = generate_code();
        assert_eq!(c.len(), CODE_DIGITS);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        let a = Phone::parse("13800138000").unwrap();
        let b = Phone::parse("13800138001").unwrap();
        assert_ne!(code_hash(b"s", &a, &c), code_hash(b"s", &b, &c));
        assert_ne!(code_hash(b"s", &a, &c), code_hash(b"t", &a, &c));
        assert_eq!(code_hash(b"s", &a, &c).len(), 32);
    }

    #[test]
    fn csv_rows_are_checked() {
        let data = "\u{feff}id,Phone,name,extra\n\
                    1,13800138000,张三,x\n\
                    2,12345,李四,x\n\
                    3,\"138 0013 8001\",\"Wang, Wu\",x\n\
                    4,+8613800138000,again,x\n\
                    5,13800138002,,x\n\
                    6,13800138003\n";
        let (rows, refused) = parse_csv(data.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].name, "Wang, Wu");
        assert_eq!(rows[1].phone.as_str(), "+8613800138001");
        let codes: Vec<(u64, &str)> = refused.iter().map(|r| (r.line, r.code.as_str())).collect();
        assert_eq!(
            codes,
            [
                (3, "invalid_phone"),
                (5, "duplicate_in_file"),
                (6, "invalid_name"),
                (7, "invalid_name")
            ]
        );
        assert_eq!(refused[0].phone, "12345");
        assert_eq!(
            parse_csv(b"mobile,name\n1,2\n").unwrap_err().code(),
            "invalid_csv"
        );
    }
}
