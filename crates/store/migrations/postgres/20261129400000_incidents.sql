-- Incident reports, their timelines, and the routing rules category → department (issue 6).
-- Instants are Unix milliseconds; ids are UUIDs.

CREATE TABLE routing (
    category TEXT PRIMARY KEY,
    department TEXT NOT NULL REFERENCES departments (code),
    updated_at BIGINT NOT NULL,
    updated_by UUID REFERENCES users (id)
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
    id UUID PRIMARY KEY,
    reporter_id UUID NOT NULL REFERENCES users (id),
    category TEXT NOT NULL,
    description TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    team_id UUID REFERENCES teams (id),
    department TEXT NOT NULL REFERENCES departments (code),
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'in_progress', 'resolved', 'rejected')),
    -- stored photo files (`<sha256>.<ext>`), separated by spaces, in the order sent
    photos TEXT NOT NULL,
    media_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    closed_at BIGINT
);
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_department ON incidents (department, created_at);
CREATE INDEX incidents_reporter ON incidents (reporter_id, created_at);

CREATE TABLE incident_events (
    incident_id UUID NOT NULL REFERENCES incidents (id),
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    actor_id UUID NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('reported', 'status', 'rerouted')),
    status TEXT NOT NULL,
    department TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
