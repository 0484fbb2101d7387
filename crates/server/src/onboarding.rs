//! Bulk onboarding, shared by `POST /api/v1/users/import` and `peacepatrol user import`: read
//! a `phone,name` CSV file, refuse the rows that fail registration's rules (or repeat a phone
//! of the file, or name an active account), import the rest as pending envoys with one-time
//! activation codes, and give the codes back for the SMS gateway.

use pp_domain::onboarding::{self, ImportRow, Refused};
use pp_domain::time::Timestamp;
use pp_store::{ImportOutcome, PendingEnvoy, Store, StoreResult};
use rand::RngCore as _;
use serde::Serialize;
use utoipa::ToSchema;

/// Largest import file the API accepts (well over 100,000 rows).
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

/// A code to send to one imported envoy.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedCode {
    /// E.164 phone
    #[schema(example = "+8613800138000")]
    pub phone: String,
    /// the one-time activation code (8 digits)
    #[schema(example = "40912273")]
    pub code: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    /// data rows read (the header row not counted)
    pub rows: u64,
    /// new pending envoys
    pub imported: u64,
    /// phones that were pending already and got a fresh code (attempts and expiry reset)
    pub reissued: u64,
    /// rows refused, by line
    pub refused: Vec<Refused>,
    /// the codes to send, one per imported or re-issued row, in file order
    pub codes: Vec<IssuedCode>,
}

/// The server-side salt of activation code hashes (shared by every node through the store).
pub async fn code_salt(store: &dyn Store) -> StoreResult<Vec<u8>> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    store.secret(onboarding::CODE_SALT_KEY, &fresh).await
}

/// The rows of a file, each with a fresh code and its hash (CPU work: run it off the async
/// threads for a large file).
pub struct Prepared {
    rows: Vec<ImportRow>,
    refused: Vec<Refused>,
    pending: Vec<PendingEnvoy>,
    codes: Vec<String>,
}

/// Parses `data` and issues a code for each valid row; `invalid_csv` when the file has no
/// `phone` and `name` columns.
pub fn prepare(data: &[u8], salt: &[u8]) -> StoreResult<Prepared> {
    let (rows, refused) = onboarding::parse_csv(data)?;
    let codes: Vec<String> = rows.iter().map(|_| onboarding::generate_code()).collect();
    let pending = rows
        .iter()
        .zip(&codes)
        .map(|(r, c)| PendingEnvoy {
            phone: r.phone.clone(),
            name: r.name.clone(),
            code_hash: onboarding::code_hash(salt, &r.phone, c),
        })
        .collect();
    Ok(Prepared {
        rows,
        refused,
        pending,
        codes,
    })
}

/// Stores prepared rows; codes expire at `expires_at`.
pub async fn import(
    store: &dyn Store,
    prepared: Prepared,
    expires_at: Timestamp,
    now: Timestamp,
) -> StoreResult<ImportReport> {
    let Prepared {
        rows,
        mut refused,
        pending,
        codes,
    } = prepared;
    let outcomes = store.import_envoys(&pending, expires_at, now).await?;
    let mut report = ImportReport {
        rows: 0,
        imported: 0,
        reissued: 0,
        refused: Vec::new(),
        codes: Vec::with_capacity(rows.len()),
    };
    for ((row, code), outcome) in rows.iter().zip(codes).zip(outcomes) {
        match outcome {
            ImportOutcome::Created => report.imported += 1,
            ImportOutcome::Reissued => report.reissued += 1,
            ImportOutcome::Taken => {
                refused.push(Refused::phone_taken(row));
                continue;
            }
        }
        report.codes.push(IssuedCode {
            phone: row.phone.as_str().to_owned(),
            code,
        });
    }
    refused.sort_by_key(|r| r.line);
    report.rows = rows.len() as u64 + refused.len() as u64 - taken(&refused);
    report.refused = refused;
    Ok(report)
}

fn taken(refused: &[Refused]) -> u64 {
    refused.iter().filter(|r| r.code == "phone_taken").count() as u64
}
