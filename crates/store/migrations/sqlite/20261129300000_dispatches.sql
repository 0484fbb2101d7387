-- Emergency dispatches and the envoys they alert (issue 5).
-- Instants are Unix milliseconds; ids are UUIDs stored as 16-byte BLOBs.

CREATE TABLE dispatches (
    id BLOB PRIMARY KEY NOT NULL,
    created_by BLOB NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    lat REAL NOT NULL,
    lng REAL NOT NULL,
    -- the current search radius: doubles at each escalation
    radius_m REAL NOT NULL,
    needed INTEGER NOT NULL,
    message TEXT NOT NULL,
    -- the district's policy when it opened, kept with it
    overfill INTEGER NOT NULL,
    alert_timeout_ms INTEGER NOT NULL,
    escalate_after_ms INTEGER NOT NULL,
    max_radius_m REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    escalations INTEGER NOT NULL,
    escalated_at INTEGER NOT NULL,
    closed_at INTEGER,
    closed_by BLOB REFERENCES users (id)
);
CREATE INDEX dispatches_created ON dispatches (created_at);
-- the dispatch loop visits the open ones every second
CREATE INDEX dispatches_open ON dispatches (created_at) WHERE state = 'open';

CREATE TABLE dispatch_recipients (
    dispatch_id BLOB NOT NULL REFERENCES dispatches (id),
    user_id BLOB NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('notified', 'accepted', 'declined', 'expired', 'arrived')),
    -- 1 while the envoy is taken by this open dispatch (notified, accepted or arrived), else 0:
    -- the unique index below keeps an envoy on at most one open dispatch, whatever the
    -- concurrency
    engaged INTEGER NOT NULL,
    distance_m REAL NOT NULL,
    wave INTEGER NOT NULL,
    notified_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    answered_at INTEGER,
    arrived_at INTEGER,
    PRIMARY KEY (dispatch_id, user_id)
);
CREATE UNIQUE INDEX dispatch_recipients_one_engaged ON dispatch_recipients (user_id) WHERE engaged = 1;
CREATE INDEX dispatch_recipients_user ON dispatch_recipients (user_id, notified_at);
-- alerts waiting for an answer, by when they pass on
CREATE INDEX dispatch_recipients_due ON dispatch_recipients (expires_at) WHERE state = 'notified';
