-- Accounts, sessions, departments, settings, tasks and teams (issue 2).
-- Instants are Unix milliseconds (BIGINT), as in the SQLite schema, so both backends share SQL.

CREATE TABLE departments (
    id UUID PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

INSERT INTO departments (id, code, name_zh, name_en, created_at) VALUES
    ('019ad0c0-0000-7000-8000-000000000001', 'public_security', '公安', 'Public Security', 0),
    ('019ad0c0-0000-7000-8000-000000000002', 'sanitation', '环卫', 'Sanitation', 0),
    ('019ad0c0-0000-7000-8000-000000000003', 'urban_management', '城管', 'Urban Management', 0);

CREATE TABLE users (
    id UUID PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('envoy', 'commander', 'staff', 'admin')),
    department TEXT REFERENCES departments (code),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE tasks (
    id UUID PRIMARY KEY,
    title TEXT NOT NULL,
    place TEXT NOT NULL,
    description TEXT NOT NULL,
    area TEXT NOT NULL,
    -- the area's bounding box, to find tasks near a point without reading every area
    min_lat DOUBLE PRECISION NOT NULL,
    max_lat DOUBLE PRECISION NOT NULL,
    min_lng DOUBLE PRECISION NOT NULL,
    max_lng DOUBLE PRECISION NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    patrol_minutes BIGINT NOT NULL,
    team_min BIGINT NOT NULL,
    team_max BIGINT NOT NULL,
    max_teams BIGINT NOT NULL,
    reward_points BIGINT NOT NULL,
    reward_fund_cents BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_by UUID NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    closed_at BIGINT
);
CREATE INDEX tasks_status ON tasks (status, created_at);
CREATE INDEX tasks_bbox ON tasks (min_lat, max_lat);

CREATE TABLE teams (
    id UUID PRIMARY KEY,
    task_id UUID NOT NULL REFERENCES tasks (id),
    leader_id UUID NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('forming', 'active', 'finished', 'disbanded')),
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    photo_sha256 TEXT,
    start_lat DOUBLE PRECISION,
    start_lng DOUBLE PRECISION
);
CREATE INDEX teams_task ON teams (task_id, state);

CREATE TABLE team_members (
    team_id UUID NOT NULL REFERENCES teams (id),
    user_id UUID NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('leader', 'member')),
    joined_at BIGINT NOT NULL,
    -- 1 while the member is in the team and the team is forming or active
    is_current BIGINT NOT NULL,
    left_at BIGINT,
    PRIMARY KEY (team_id, user_id)
);
-- an envoy is in at most one forming or active team, whatever the concurrency
CREATE UNIQUE INDEX team_members_one_current ON team_members (user_id) WHERE is_current = 1;
