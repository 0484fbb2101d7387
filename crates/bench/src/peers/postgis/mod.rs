//! The PostGIS peer of `bench heatmap`, as `../shared/bench/README.md` describes it: the
//! database of `--postgis-url` (created if missing) gets the `postgis` extension and the table
//! `footprints (volunteer_id int, ts timestamptz, geom geometry(Point,4326), h3_9 bigint)`
//! loaded from `footprints.csv` with `COPY` (workload times, not shifted; `h3_9` computed here
//! with [`Cells`], `geom` as EWKT), a BRIN index on `ts` (the rows arrive in `ts` order), a GiST
//! index on `geom`, `VACUUM ANALYZE`. For the exactness check only, next to it:
//! `footprints_not_counted` (the rows the server does not count, [`crate::reference`]) and
//! `live_positions` (volunteers.csv, with `counted`). A table `pp_bench_loaded` records the
//! sha256 of both files (meta.json's): with the same sha256 and row counts, nothing is
//! reloaded. It uses sqlx's PostgreSQL driver, which the product has anyway.
//!
//! The peer's timed queries and the reference counts it gives are in [`queries`].

pub mod queries;

use crate::reference::{ingested, read_volunteers, tally, Fate, RES};
use crate::workload::meta::Meta;
use crate::workload::Ping;
use anyhow::Context as _;
use pp_domain::position::MAX_BATCH;
use pp_domain::time::from_millis;
use pp_geo::cells::Cells;
use pp_geo::LatLng;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _, Executor as _, PgConnection};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

/// The PostGIS peer's database when `--postgis-url` is not given.
pub const DEFAULT_POSTGIS_URL: &str = "postgres://postgres@127.0.0.1:5432/pp_bench_postgis";
/// Bytes of COPY data sent at once.
const COPY_CHUNK: usize = 4 << 20;

/// Connects to the PostGIS peer's database (creating it and the extension if missing) and
/// loads its tables unless they hold this workload already.
pub async fn connect(
    url: &str,
    dir: &Path,
    meta: &Meta,
    shift_ms: i64,
) -> anyhow::Result<PgConnection> {
    let opts: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .with_context(|| format!("--postgis-url {url}"))?
        .disable_statement_logging();
    let name = opts
        .get_database()
        .context("--postgis-url names no database")?
        .to_owned();
    let mut admin = PgConnection::connect_with(&opts.clone().database("postgres"))
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", pp_store::redact(url)))?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        admin
            .execute(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")).as_str())
            .await
            .with_context(|| format!("creating the database {name}"))?;
        println!("PostGIS: created the database {name}");
    }
    admin.close().await?;
    let mut conn = PgConnection::connect_with(&opts).await?;
    let version: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut conn)
        .await?;
    let major = version.parse::<u32>().unwrap_or(150_000) / 10_000;
    if let Err(e) = conn.execute("CREATE EXTENSION IF NOT EXISTS postgis").await {
        anyhow::bail!(
            "PostGIS is not installed for this PostgreSQL {major} ({e}): install it with\n    apt-get install -y postgresql-{major}-postgis-3\nand run again (or pass --no-postgis)"
        );
    }
    let postgis: String = sqlx::query_scalar("SELECT postgis_lib_version()")
        .fetch_one(&mut conn)
        .await?;
    let mut settings = Vec::new();
    for s in [
        "shared_buffers",
        "work_mem",
        "max_parallel_workers_per_gather",
        "jit",
    ] {
        let v: String = sqlx::query_scalar(&format!("SHOW {s}"))
            .fetch_one(&mut conn)
            .await?;
        settings.push(format!("{s} {v}"));
    }
    println!(
        "PostGIS: {} (PostgreSQL {major}, PostGIS {postgis}; {}, as configured)",
        pp_store::redact(url),
        settings.join(", ")
    );

    conn.execute(
        "CREATE TABLE IF NOT EXISTS pp_bench_loaded (footprints_sha256 text NOT NULL, footprints bigint NOT NULL, volunteers_sha256 text NOT NULL, live_positions bigint NOT NULL, loaded_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let marked: Option<(i64, i64)> = sqlx::query_as(
        "SELECT footprints, live_positions FROM pp_bench_loaded WHERE footprints_sha256 = $1 AND volunteers_sha256 = $2",
    )
    .bind(&meta.footprints_sha256)
    .bind(&meta.volunteers_sha256)
    .fetch_optional(&mut conn)
    .await?;
    let tables: (Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT to_regclass('footprints')::text, to_regclass('live_positions')::text, to_regclass('footprints_not_counted')::text",
    )
    .fetch_one(&mut conn)
    .await?;
    let held = match (marked, tables) {
        (Some((f, l)), (Some(_), Some(_), Some(_))) => {
            let rows: (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM footprints), (SELECT count(*) FROM live_positions)",
            )
            .fetch_one(&mut conn)
            .await?;
            rows == (f, l) && u64::try_from(f).ok() == Some(meta.footprints)
        }
        _ => false,
    };
    if held {
        println!(
            "PostGIS: footprints holds the {} rows of footprints.csv sha256 {}… already (pp_bench_loaded): not reloaded",
            meta.footprints,
            &meta.footprints_sha256[..16]
        );
    } else {
        load(&mut conn, dir, meta, shift_ms).await?;
    }
    let t = Instant::now();
    // as a DBA would: rows arrive in ts order (BRIN), boxes over points (GiST)
    conn.execute("SET maintenance_work_mem = '1GB'").await?;
    conn.execute("CREATE INDEX IF NOT EXISTS footprints_ts_brin ON footprints USING brin (ts)")
        .await?;
    conn.execute("CREATE INDEX IF NOT EXISTS footprints_geom_gist ON footprints USING gist (geom)")
        .await?;
    if !held {
        println!(
            "PostGIS: indexes (BRIN on ts, GiST on geom) built in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        conn.execute("VACUUM (ANALYZE) footprints").await?;
        conn.execute("VACUUM (ANALYZE) live_positions").await?;
        conn.execute("VACUUM (ANALYZE) footprints_not_counted")
            .await?;
        println!(
            "PostGIS: VACUUM ANALYZE in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    } else {
        conn.execute("ANALYZE footprints").await?;
        conn.execute("ANALYZE live_positions").await?;
        conn.execute("ANALYZE footprints_not_counted").await?;
    }
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_total_relation_size('footprints'))")
            .fetch_one(&mut conn)
            .await?;
    println!("PostGIS: footprints with its indexes: {size}");
    Ok(conn)
}

/// (Re)creates and fills the PostGIS tables with COPY.
async fn load(
    conn: &mut PgConnection,
    dir: &Path,
    meta: &Meta,
    shift_ms: i64,
) -> anyhow::Result<()> {
    conn.execute("DROP TABLE IF EXISTS footprints, live_positions, footprints_not_counted")
        .await?;
    conn.execute("DELETE FROM pp_bench_loaded").await?;
    conn.execute(
        "CREATE TABLE footprints (volunteer_id int NOT NULL, ts timestamptz NOT NULL, geom geometry(Point,4326) NOT NULL, h3_9 bigint NOT NULL)",
    )
    .await?;
    conn.execute(
        "CREATE TABLE live_positions (volunteer_id int NOT NULL, ts timestamptz NOT NULL, geom geometry(Point,4326) NOT NULL, h3_9 bigint NOT NULL, counted boolean NOT NULL)",
    )
    .await?;
    conn.execute(
        "CREATE TABLE footprints_not_counted (volunteer_id int NOT NULL, ts timestamptz NOT NULL, h3_9 bigint NOT NULL, why text NOT NULL)",
    )
    .await?;

    let t = Instant::now();
    let volunteers = read_volunteers(dir)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let path = dir.join("footprints.csv");
    let producer = tokio::task::spawn_blocking(move || {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        anyhow::ensure!(
            header == "volunteer_id,lat,lng,ts",
            "{}: unexpected header {header:?}",
            path.display()
        );
        let mut footprints = Vec::with_capacity(text.len() / 36);
        let mut buf = Vec::with_capacity(COPY_CHUNK + 256);
        let mut rows = 0u64;
        for (i, line) in lines.enumerate() {
            let row = copy_row(line, &mut buf)
                .with_context(|| format!("{} line {}: {line:?}", path.display(), i + 2))?;
            footprints.push(row);
            rows += 1;
            if buf.len() >= COPY_CHUNK {
                let full = std::mem::replace(&mut buf, Vec::with_capacity(COPY_CHUNK + 256));
                if tx.blocking_send(full).is_err() {
                    anyhow::bail!("COPY stopped");
                }
            }
        }
        if !buf.is_empty() && tx.blocking_send(buf).is_err() {
            anyhow::bail!("COPY stopped");
        }
        anyhow::Ok((rows, footprints))
    });
    let mut copy = conn
        .copy_in_raw("COPY footprints (volunteer_id, ts, geom, h3_9) FROM STDIN")
        .await?;
    let mut sent = 0usize;
    let mut sending = Ok(());
    while let Some(chunk) = rx.recv().await {
        sent += chunk.len();
        if let Err(e) = copy.send(chunk).await {
            sending = Err(e);
            break;
        }
        if sent % (COPY_CHUNK * 64) < COPY_CHUNK {
            eprintln!("  … COPY footprints: {} MB sent", sent >> 20);
        }
    }
    drop(rx);
    let produced = producer.await?;
    let (rows, footprints) = match (sending, produced) {
        (Ok(()), Ok(done)) => done,
        (Err(e), _) => {
            let _ = copy.abort("bench heatmap: sending failed").await;
            return Err(e).context("COPY footprints");
        }
        (_, Err(e)) => {
            let _ = copy
                .abort("bench heatmap: reading footprints.csv failed")
                .await;
            return Err(e);
        }
    };
    let copied = copy.finish().await.context("COPY footprints")?;
    anyhow::ensure!(
        copied == rows && rows == meta.footprints,
        "COPY footprints: {copied} rows copied, {rows} read, meta.json says {}",
        meta.footprints
    );
    let secs = t.elapsed().as_secs_f64();
    println!(
        "PostGIS: COPY footprints: {rows} rows ({} MB of COPY text, h3_9 computed here) in {secs:.1} s, {:.0} rows/s",
        sent >> 20,
        rows as f64 / secs
    );

    // what the server counts of them: the rows it does not, and the live positions
    let t = Instant::now();
    let (fates, live) = ingested(&footprints, &volunteers, shift_ms)?;
    let mut buf = Vec::new();
    for (p, fate) in footprints.iter().zip(&fates) {
        if *fate != Fate::Counted {
            let cell = Cells::of(LatLng::new(p.lat, p.lng)?).at(RES) as i64;
            let _ = writeln!(
                Text(&mut buf),
                "{}\t{}\t{cell}\t{}",
                p.id,
                pg_time(p.ts),
                fate.name()
            );
        }
    }
    let mut copy = conn
        .copy_in_raw("COPY footprints_not_counted (volunteer_id, ts, h3_9, why) FROM STDIN")
        .await?;
    copy.send(buf).await?;
    let not_counted = copy.finish().await?;
    let mut buf = Vec::new();
    for (p, fate) in volunteers.iter().zip(&live) {
        let cell = Cells::of(LatLng::new(p.lat, p.lng)?).at(RES) as i64;
        let _ = writeln!(
            Text(&mut buf),
            "{}\t{}\tSRID=4326;POINT({:.6} {:.6})\t{cell}\t{}",
            p.id,
            pg_time(p.ts),
            p.lng,
            p.lat,
            *fate == Fate::Counted
        );
    }
    let mut copy = conn
        .copy_in_raw("COPY live_positions (volunteer_id, ts, geom, h3_9, counted) FROM STDIN")
        .await?;
    copy.send(buf).await?;
    let copied = copy.finish().await?;
    let [_, fd, ff, fr] = tally(&fates);
    let [lc, ld, lf, lr] = tally(&live);
    println!(
        "PostGIS: bench load's ingest replayed (validate_history, batches of {MAX_BATCH}) in {:.1} s: footprints_not_counted: {not_counted} rows ({fd} duplicates of a (volunteer, ts), {ff} flagged, {fr} rejected); live_positions: {copied} rows of volunteers.csv, {lc} counted ({lf} flagged, {ld} duplicates, {lr} rejected); for the exactness check only",
        t.elapsed().as_secs_f64()
    );
    sqlx::query(
        "INSERT INTO pp_bench_loaded (footprints_sha256, footprints, volunteers_sha256, live_positions) VALUES ($1, $2, $3, $4)",
    )
    .bind(&meta.footprints_sha256)
    .bind(i64::try_from(rows)?)
    .bind(&meta.volunteers_sha256)
    .bind(i64::try_from(copied)?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends a footprints.csv line as a COPY text row
/// `volunteer_id \t ts \t SRID=4326;POINT(lng lat) \t h3_9` and returns it parsed.
fn copy_row(line: &str, buf: &mut Vec<u8>) -> anyhow::Result<Ping> {
    let mut f = line.split(',');
    let mut next = || f.next().context("too few columns");
    let (id, lat, lng, ts) = (next()?, next()?, next()?, next()?);
    let p = Ping {
        id: id.parse()?,
        lat: lat.parse()?,
        lng: lng.parse()?,
        ts: ts.parse()?,
    };
    let cell = Cells::of(LatLng::new(p.lat, p.lng)?).at(RES) as i64;
    let _ = writeln!(
        Text(buf),
        "{}\t{}\tSRID=4326;POINT({lng} {lat})\t{cell}",
        p.id,
        pg_time(p.ts)
    );
    Ok(p)
}

/// Unix seconds as a PostgreSQL `timestamptz` literal in UTC.
fn pg_time(ts: i64) -> impl std::fmt::Display {
    from_millis(ts * 1000).format("%Y-%m-%d %H:%M:%S+00")
}

/// `fmt::Write` into a byte buffer.
struct Text<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_are_postgres_text() {
        let mut buf = Vec::new();
        let p = copy_row("66,23.107996,113.318595,1781524801", &mut buf).unwrap();
        assert_eq!(p.id, 66);
        let cell = Cells::of(LatLng::new(23.107996, 113.318595).unwrap()).at(9) as i64;
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!("66\t2026-06-15 12:00:01+00\tSRID=4326;POINT(113.318595 23.107996)\t{cell}\n")
        );
    }
}
