//! What `bench heatmap` prints of its run: the exactness check against the reference, cell
//! by cell, and the summary lines of every measurement beside the PostGIS peer's.

use super::http::{MapAnswer, Measured, TILE_ZOOM};
use crate::peers::postgis::queries::Timing;
use crate::reference::{compare, Check, Counts};
use crate::workload::meta::Meta;
use pp_geo::cells::cell_string;

/// Mismatching cells listed before giving up.
const LIST_MISMATCHES: usize = 30;

/// The reference's counts over the hours the exact answer counts.
pub struct Reference {
    /// of what the server stores unflagged
    pub stored: Counts,
    /// of every footprints.csv row
    pub raw: Counts,
    /// where they come from
    pub source: &'static str,
    /// the workload times counted, `[a_ms, b_ms)`
    pub window: (i64, i64),
}

/// Compares `ours` (the counts of the exact answer `exact`) with the reference, as stored and
/// raw; prints both, and returns the check as stored.
pub fn exactness(meta: &Meta, exact: &MapAnswer, ours: &Counts, reference: &Reference) -> Check {
    let Reference {
        stored,
        raw,
        source,
        window: (a_ms, b_ms),
    } = reference;
    let check = compare(ours, stored, &meta.bbox);
    let literal = compare(ours, raw, &meta.bbox);
    println!(
        "EXACT: the {}-day answer counts workload times [{}, {}) ({} .. {} shifted: whole hours), {} cells, {} of them inside heat_bbox (every vertex; the reference has {})",
        meta.days,
        a_ms / 1000,
        b_ms / 1000,
        exact.from,
        exact.to,
        ours.len(),
        check.ours_inside,
        check.reference_inside
    );
    println!(
        "EXACT as stored: {} cells inside heat_bbox (ours or the reference's) compared with the reference's count(*) and count(DISTINCT volunteer_id) ({source}) of the points the server stores unflagged (footprints.csv less repeated (volunteer, ts) and speed-flagged rows, plus volunteers.csv's live positions, as bench load ingests them): {}",
        check.compared,
        if check.mismatches.is_empty() {
            format!(
                "all equal ({} visits; distinct envoys summed over cells {})",
                check.visits, check.envoys
            )
        } else {
            format!("{} MISMATCH", check.mismatches.len())
        }
    );
    for (cell, o, r) in check.mismatches.iter().take(LIST_MISMATCHES) {
        println!(
            "  cell {}: ours visits {} envoys {}, reference visits {} envoys {}",
            cell_string(*cell),
            o.0,
            o.1,
            r.0,
            r.1
        );
    }
    println!(
        "EXACT raw: against every footprints.csv row (the README's peer query; no live positions, duplicates and flagged rows counted) {} of {} cells differ{}",
        literal.mismatches.len(),
        literal.compared,
        if literal.mismatches.is_empty() {
            String::new()
        } else {
            format!(
                " ({} visits there, {} as stored): the ingest's rules, not the heat map; e.g. {}",
                literal.visits,
                check.visits,
                literal
                    .mismatches
                    .iter()
                    .take(3)
                    .map(|(c, o, r)| format!(
                        "{} ours {}/{} raw {}/{}",
                        cell_string(*c),
                        o.0,
                        o.1,
                        r.0,
                        r.1
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    check
}

/// The summary lines: each measurement, then the peer's timings against ours.
pub fn summary(
    meta: &Meta,
    exact: &Measured,
    cells: usize,
    named: &[(i64, Measured)],
    tile: (&str, &Measured),
    peer: &[Timing],
) {
    let exact_p50 = exact.p50();
    println!(
        "HEATMAP: {} days from/to exact: {}, {} cells, {} bytes",
        meta.days,
        exact.latencies(),
        cells,
        exact.figures.tally.max
    );
    for (d, m) in named {
        println!(
            "HEATMAP: window={d}d: {}, {} cells, {} bytes",
            m.latencies(),
            m.cells.unwrap_or(0),
            m.figures.tally.max
        );
    }
    let (tile_window, tile) = tile;
    println!(
        "HEATMAP: tile z{TILE_ZOOM} {tile_window}: {}, {} bytes",
        tile.latencies(),
        tile.figures.tally.max
    );
    for Timing {
        days: d,
        what,
        median_ms: ms,
        rows,
    } in peer
    {
        let ours_p50 = if *d == meta.days {
            Some((format!("{d} days from/to"), exact_p50))
        } else {
            named
                .iter()
                .find(|(n, _)| n == d)
                .map(|(_, m)| (format!("window={d}d"), m.p50()))
        };
        if let Some((name, p50)) = ours_p50 {
            println!(
                "PEER: PostGIS {d} days {what}: {ms:.0} ms ({rows} rows) = {:.0} × our HTTP p50 ({name}, {p50:.2} ms)",
                ms / p50.max(0.001)
            );
        }
    }
}
