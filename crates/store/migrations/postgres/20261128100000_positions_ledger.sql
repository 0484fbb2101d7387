-- Envoy positions, patrol outcomes and the rewards ledger (issue 3).
-- Instants are Unix milliseconds (BIGINT), as in the SQLite schema, so both backends share SQL.

-- The raw track: one point per envoy and instant, appended in batches by the ingest pipeline.
-- Kept lean on purpose: NO foreign key on user_id — a check per row would cost a lookup in
-- users for every point; the server only appends points of authenticated envoys.
CREATE TABLE positions (
    user_id UUID NOT NULL,
    ts BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    accuracy_m DOUBLE PRECISION NOT NULL,
    -- the point implied an implausible speed: kept, never counted
    flagged BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, ts)
);
-- the retention purge deletes the oldest points first
CREATE INDEX positions_ts ON positions (ts);

-- Each envoy's latest unflagged point (the live index is rebuilt from it), upserted in the
-- transaction that appends the points; never purged. No foreign key, as for positions.
CREATE TABLE latest_positions (
    user_id UUID PRIMARY KEY,
    ts BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    accuracy_m DOUBLE PRECISION NOT NULL
);

-- A member's outcome, stored when the team finishes (NULL before).
ALTER TABLE team_members ADD COLUMN patrol_ms BIGINT;
ALTER TABLE team_members ADD COLUMN qualified BOOLEAN;
-- the leaderboard sums the patrol time of the teams finished in a period
CREATE INDEX teams_finished ON teams (finished_at);

-- The rewards ledger: append-only (the trigger below refuses UPDATE, DELETE and TRUNCATE);
-- mistakes are corrected by appending a correction.
CREATE TABLE ledger (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('points', 'fund')),
    -- signed: points, or cents
    amount BIGINT NOT NULL,
    reason TEXT NOT NULL,
    -- the patrol an award rewards (an award always names one, so the unique index holds)
    team_id UUID REFERENCES teams (id),
    source TEXT NOT NULL CHECK (source IN ('award', 'correction')),
    -- the admin who made a correction
    created_by UUID REFERENCES users (id),
    created_at BIGINT NOT NULL,
    CHECK (source <> 'award' OR team_id IS NOT NULL)
);
-- one award per team, member and kind: double credit is impossible, whatever the concurrency
CREATE UNIQUE INDEX ledger_one_award ON ledger (team_id, user_id, kind) WHERE source = 'award';
CREATE INDEX ledger_user ON ledger (user_id, created_at);
CREATE INDEX ledger_created ON ledger (created_at);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: append a correction instead'
        USING ERRCODE = 'restrict_violation';
END;
$$;
-- statement-level, so even an UPDATE or DELETE that matches no row is refused
CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
