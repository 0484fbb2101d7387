-- Emergency dispatches and the envoys they alert (issue 5).
-- Instants are Unix milliseconds (BIGINT), as in the SQLite schema.

CREATE TABLE dispatches (
    id UUID PRIMARY KEY,
    created_by UUID NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    -- the current search radius: doubles at each escalation
    radius_m DOUBLE PRECISION NOT NULL,
    needed BIGINT NOT NULL,
    message TEXT NOT NULL,
    -- the district's policy when it opened, kept with it
    overfill BIGINT NOT NULL,
    alert_timeout_ms BIGINT NOT NULL,
    escalate_after_ms BIGINT NOT NULL,
    max_radius_m DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    escalations BIGINT NOT NULL,
    escalated_at BIGINT NOT NULL,
    closed_at BIGINT,
    closed_by UUID REFERENCES users (id)
);
CREATE INDEX dispatches_created ON dispatches (created_at);
-- the dispatch loop visits the open ones every second
CREATE INDEX dispatches_open ON dispatches (created_at) WHERE state = 'open';

CREATE TABLE dispatch_recipients (
    dispatch_id UUID NOT NULL REFERENCES dispatches (id),
    user_id UUID NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('notified', 'accepted', 'declined', 'expired', 'arrived')),
    -- 1 while the envoy is taken by this open dispatch (notified, accepted or arrived), else 0:
    -- the unique index below keeps an envoy on at most one open dispatch, whatever the
    -- concurrency
    engaged BIGINT NOT NULL,
    distance_m DOUBLE PRECISION NOT NULL,
    wave BIGINT NOT NULL,
    notified_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT,
    arrived_at BIGINT,
    PRIMARY KEY (dispatch_id, user_id)
);
CREATE UNIQUE INDEX dispatch_recipients_one_engaged ON dispatch_recipients (user_id) WHERE engaged = 1;
CREATE INDEX dispatch_recipients_user ON dispatch_recipients (user_id, notified_at);
-- alerts waiting for an answer, by when they pass on
CREATE INDEX dispatch_recipients_due ON dispatch_recipients (expires_at) WHERE state = 'notified';
