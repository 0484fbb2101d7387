-- Envoy positions, patrol outcomes and the rewards ledger (issue 3).
-- Instants are Unix milliseconds (INTEGER); ids are UUIDs stored as 16-byte BLOBs.

-- The raw track: one point per envoy and instant, appended in batches by the ingest pipeline.
-- Kept lean on purpose (it takes hundreds of thousands of rows a second): WITHOUT ROWID, so the
-- primary key is the table, and NO foreign key on user_id — a check per row would cost a lookup
-- in users for every point; the server only appends points of authenticated envoys.
CREATE TABLE positions (
    user_id BLOB NOT NULL,
    ts INTEGER NOT NULL,
    lat REAL NOT NULL,
    lng REAL NOT NULL,
    accuracy_m REAL NOT NULL,
    -- 1 when the point implied an implausible speed: kept, never counted
    flagged INTEGER NOT NULL,
    PRIMARY KEY (user_id, ts)
) WITHOUT ROWID;
-- the retention purge deletes the oldest points first
CREATE INDEX positions_ts ON positions (ts);

-- Each envoy's latest unflagged point (the live index is rebuilt from it), upserted in the
-- transaction that appends the points; never purged. No foreign key, as for positions.
CREATE TABLE latest_positions (
    user_id BLOB PRIMARY KEY NOT NULL,
    ts INTEGER NOT NULL,
    lat REAL NOT NULL,
    lng REAL NOT NULL,
    accuracy_m REAL NOT NULL
) WITHOUT ROWID;

-- A member's outcome, stored when the team finishes (NULL before).
ALTER TABLE team_members ADD COLUMN patrol_ms INTEGER;
ALTER TABLE team_members ADD COLUMN qualified INTEGER;
-- the leaderboard sums the patrol time of the teams finished in a period
CREATE INDEX teams_finished ON teams (finished_at);

-- The rewards ledger: append-only (the triggers below refuse UPDATE and DELETE); mistakes are
-- corrected by appending a correction.
CREATE TABLE ledger (
    id BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('points', 'fund')),
    -- signed: points, or cents
    amount INTEGER NOT NULL,
    reason TEXT NOT NULL,
    -- the patrol an award rewards (an award always names one, so the unique index holds)
    team_id BLOB REFERENCES teams (id),
    source TEXT NOT NULL CHECK (source IN ('award', 'correction')),
    -- the admin who made a correction
    created_by BLOB REFERENCES users (id),
    created_at INTEGER NOT NULL,
    CHECK (source <> 'award' OR team_id IS NOT NULL)
);
-- one award per team, member and kind: double credit is impossible, whatever the concurrency
CREATE UNIQUE INDEX ledger_one_award ON ledger (team_id, user_id, kind) WHERE source = 'award';
CREATE INDEX ledger_user ON ledger (user_id, created_at);
CREATE INDEX ledger_created ON ledger (created_at);

CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: append a correction instead');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only: append a correction instead');
END;
