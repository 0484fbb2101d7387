-- An envoy may opt out of emergency dispatch (PUT /me/availability); everyone starts available.
ALTER TABLE users ADD COLUMN available INTEGER NOT NULL DEFAULT 1;
-- the few who opted out are loaded at start
CREATE INDEX users_unavailable ON users (id) WHERE NOT available;
