//! The workload's nearest-envoy queries: `queries.csv` and the brute-force answers of
//! `queries_expected.csv`.

use anyhow::Context as _;
use std::collections::HashMap;
use std::path::Path;

/// A row of queries.csv.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query {
    /// its id
    pub id: u32,
    /// WGS-84 degrees
    pub lat: f64,
    /// WGS-84 degrees
    pub lng: f64,
    /// search radius
    pub radius_m: f64,
    /// envoys asked for
    pub k: usize,
}

/// Reads queries.csv.
pub fn read_queries(path: &Path) -> anyhow::Result<Vec<Query>> {
    read_rows(path, "query_id,lat,lng,radius_m,k,", |f| {
        Ok(Query {
            id: f[0].parse()?,
            lat: f[1].parse()?,
            lng: f[2].parse()?,
            radius_m: f[3].parse()?,
            k: f[4].parse()?,
        })
    })
}

/// Reads queries_expected.csv: per query id, `(volunteer id, dist_m)` by rank.
pub fn read_expected(path: &Path) -> anyhow::Result<HashMap<u32, Vec<(u32, f64)>>> {
    let rows = read_rows(path, "query_id,rank,volunteer_id,dist_m", |f| {
        Ok((
            f[0].parse::<u32>()?,
            f[1].parse::<u32>()?,
            f[2].parse::<u32>()?,
            f[3].parse::<f64>()?,
        ))
    })?;
    let mut out: HashMap<u32, Vec<(u32, u32, f64)>> = HashMap::new();
    for (q, rank, id, d) in rows {
        out.entry(q).or_default().push((rank, id, d));
    }
    Ok(out
        .into_iter()
        .map(|(q, mut v)| {
            v.sort_by_key(|r| r.0);
            (q, v.into_iter().map(|(_, id, d)| (id, d)).collect())
        })
        .collect())
}

/// Reads a CSV file whose header starts with `header`, parsing each row's fields with `parse`.
fn read_rows<T>(
    path: &Path,
    header: &str,
    parse: impl Fn(&[&str]) -> anyhow::Result<T>,
) -> anyhow::Result<Vec<T>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    anyhow::ensure!(
        first.starts_with(header),
        "{}: unexpected header {first:?}",
        path.display()
    );
    let columns = header.split(',').filter(|c| !c.is_empty()).count();
    lines
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            anyhow::ensure!(f.len() >= columns, "too few columns");
            parse(&f).with_context(|| format!("{} line {}: {line:?}", path.display(), i + 2))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_expected_rows_parse() {
        let dir = tempfile::tempdir().unwrap();
        let q = dir.path().join("queries.csv");
        std::fs::write(
            &q,
            "query_id,lat,lng,radius_m,k,max_age_s\n1,23.112533,113.324705,2000.0,20,600\n",
        )
        .unwrap();
        assert_eq!(
            read_queries(&q).unwrap(),
            [Query {
                id: 1,
                lat: 23.112533,
                lng: 113.324705,
                radius_m: 2000.0,
                k: 20
            }]
        );
        let e = dir.path().join("queries_expected.csv");
        std::fs::write(
            &e,
            "query_id,rank,volunteer_id,dist_m\n1,2,5328,21.01\n1,1,79543,10.13\n",
        )
        .unwrap();
        assert_eq!(
            read_expected(&e).unwrap()[&1],
            [(79543, 10.13), (5328, 21.01)]
        );
        assert!(read_queries(&e).is_err());
    }
}
