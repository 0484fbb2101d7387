//! How many rows one multi-row statement carries: the chunking every bulk write and `IN (…)`
//! read of both backends goes through (compiled once, unlike `sql/`).

/// Most rows one multi-row statement carries (at most 9 columns: 4,608 bind parameters, well
/// under SQLite's 32,766 and PostgreSQL's 65,535).
const MAX_CHUNK_ROWS: usize = 512;

/// Rows under which the last chunk keeps its exact length: a short statement is cheap to
/// prepare and small in the statement cache, and one statement is one round trip (a group
/// commit of a few single points is one statement per table).
const EXACT_BELOW: usize = 64;

/// Cuts `rows` into the chunks of a multi-row statement: full chunks of [`MAX_CHUNK_ROWS`],
/// then the rest by powers of two down to [`EXACT_BELOW`] (256, 128, 64), then what is left in
/// one chunk. Long statements thus have one of four shapes, each prepared once per connection
/// and kept in its statement cache, rather than a new text to parse and cache for every length
/// (a prepared statement of thousands of rows is large).
pub(crate) fn shaped_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = match rest.len() {
            n if n >= MAX_CHUNK_ROWS => MAX_CHUNK_ROWS,
            n if n >= EXACT_BELOW => 1 << n.ilog2(),
            n => n,
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::{shaped_chunks, EXACT_BELOW, MAX_CHUNK_ROWS};

    #[test]
    fn chunks_have_few_long_shapes_and_keep_every_row_in_order() {
        for n in [0, 1, 2, 7, 63, 64, 65, 511, 512, 513, 1000, 1537, 5000] {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = shaped_chunks(&rows).collect();
            assert_eq!(chunks.concat(), rows, "{n}");
            let (last, long) = chunks
                .split_last()
                .map_or((None, &[][..]), |(l, r)| (Some(l), r));
            for c in long {
                assert!(c.len().is_power_of_two(), "{n}: {}", c.len());
                assert!(
                    (EXACT_BELOW..=MAX_CHUNK_ROWS).contains(&c.len()),
                    "{n}: {}",
                    c.len()
                );
            }
            if let Some(last) = last {
                assert!(
                    last.len() < EXACT_BELOW || last.len().is_power_of_two(),
                    "{n}"
                );
            }
            let short = chunks.iter().filter(|c| c.len() < EXACT_BELOW).count();
            assert!(short <= 1, "{n}: at most one short chunk");
        }
        assert_eq!(
            shaped_chunks(&[0; 7]).count(),
            1,
            "a few rows: one statement"
        );
    }
}
