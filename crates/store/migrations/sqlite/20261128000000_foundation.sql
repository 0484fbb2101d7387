-- Accounts, sessions, departments, settings, tasks and teams (issue 2).
-- Instants are Unix milliseconds (INTEGER); ids are UUIDs stored as 16-byte BLOBs.

CREATE TABLE departments (
    id BLOB PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

INSERT INTO departments (id, code, name_zh, name_en, created_at) VALUES
    (X'019ad0c0000070008000000000000001', 'public_security', '公安', 'Public Security', 0),
    (X'019ad0c0000070008000000000000002', 'sanitation', '环卫', 'Sanitation', 0),
    (X'019ad0c0000070008000000000000003', 'urban_management', '城管', 'Urban Management', 0);

CREATE TABLE users (
    id BLOB PRIMARY KEY NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('envoy', 'commander', 'staff', 'admin')),
    department TEXT REFERENCES departments (code),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);

CREATE TABLE tasks (
    id BLOB PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    place TEXT NOT NULL,
    description TEXT NOT NULL,
    area TEXT NOT NULL,
    -- the area's bounding box, to find tasks near a point without reading every area
    min_lat REAL NOT NULL,
    max_lat REAL NOT NULL,
    min_lng REAL NOT NULL,
    max_lng REAL NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    patrol_minutes INTEGER NOT NULL,
    team_min INTEGER NOT NULL,
    team_max INTEGER NOT NULL,
    max_teams INTEGER NOT NULL,
    reward_points INTEGER NOT NULL,
    reward_fund_cents INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_by BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    closed_at INTEGER
);
CREATE INDEX tasks_status ON tasks (status, created_at);
CREATE INDEX tasks_bbox ON tasks (min_lat, max_lat);

CREATE TABLE teams (
    id BLOB PRIMARY KEY NOT NULL,
    task_id BLOB NOT NULL REFERENCES tasks (id),
    leader_id BLOB NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('forming', 'active', 'finished', 'disbanded')),
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    photo_sha256 TEXT,
    start_lat REAL,
    start_lng REAL
);
CREATE INDEX teams_task ON teams (task_id, state);

CREATE TABLE team_members (
    team_id BLOB NOT NULL REFERENCES teams (id),
    user_id BLOB NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('leader', 'member')),
    joined_at INTEGER NOT NULL,
    -- 1 while the member is in the team and the team is forming or active
    is_current INTEGER NOT NULL,
    left_at INTEGER,
    PRIMARY KEY (team_id, user_id)
);
-- an envoy is in at most one forming or active team, whatever the concurrency
CREATE UNIQUE INDEX team_members_one_current ON team_members (user_id) WHERE is_current = 1;
