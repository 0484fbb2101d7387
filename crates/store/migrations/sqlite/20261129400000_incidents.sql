-- Incident reports, their timelines, and the routing rules category → department (issue 6).
-- Instants are Unix milliseconds; ids are UUIDs stored as 16-byte BLOBs.

CREATE TABLE routing (
    category TEXT PRIMARY KEY NOT NULL,
    department TEXT NOT NULL REFERENCES departments (code),
    updated_at INTEGER NOT NULL,
    updated_by BLOB REFERENCES users (id)
);
INSERT INTO routing (category, department, updated_at) VALUES
    ('suspicious_person', 'public_security', 0),
    ('public_security', 'public_security', 0),
    ('lost_child', 'public_security', 0),
    ('elderly_assist', 'public_security', 0),
    ('sanitation', 'sanitation', 0),
    ('bike_parking', 'urban_management', 0),
    ('traffic_civility', 'urban_management', 0),
    ('other', 'urban_management', 0);

CREATE TABLE incidents (
    id BLOB PRIMARY KEY NOT NULL,
    reporter_id BLOB NOT NULL REFERENCES users (id),
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    lat REAL NOT NULL,
    lng REAL NOT NULL,
    team_id BLOB REFERENCES teams (id),
    department TEXT NOT NULL REFERENCES departments (code),
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'in_progress', 'resolved', 'rejected')),
    -- stored photo files (`<sha256>.<ext>`), separated by spaces, in the order sent
    photos TEXT NOT NULL,
    media_url TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    closed_at INTEGER
);
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_department ON incidents (department, created_at);
CREATE INDEX incidents_reporter ON incidents (reporter_id, created_at);

CREATE TABLE incident_events (
    incident_id BLOB NOT NULL REFERENCES incidents (id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor_id BLOB NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('reported', 'status', 'rerouted')),
    status TEXT NOT NULL,
    department TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
