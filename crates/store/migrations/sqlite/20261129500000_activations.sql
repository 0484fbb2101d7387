-- Bulk onboarding: an imported envoy is pending (empty password_hash, so no password can
-- match) until they activate with the one-time code of their row here, kept as a salted
-- SHA-256. Activation deletes the row and sets the password.
CREATE TABLE activations (
    user_id BLOB PRIMARY KEY NOT NULL REFERENCES users (id),
    code_hash BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
