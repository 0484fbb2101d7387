-- The heat map's aggregates (issue 4): per hour, per H3 cell combination and per envoy, how
-- many unflagged points the envoy left there. Distinct envoys of a cell over any window are the
-- distinct user_ids of its rows, so they are exact. Each new point adds to its row in the
-- transaction that appends it; rows outlive the raw positions' retention.
-- r7..r10: the point's H3 cells (64-bit indexes) at resolutions 7 to 10, each found from the
-- point directly (an H3 child is not always inside its parent, so all four are kept).
CREATE TABLE heat (
    -- hours since the Unix epoch
    hour INTEGER NOT NULL,
    r10 INTEGER NOT NULL,
    r9 INTEGER NOT NULL,
    r8 INTEGER NOT NULL,
    r7 INTEGER NOT NULL,
    user_id BLOB NOT NULL,
    visits INTEGER NOT NULL,
    PRIMARY KEY (hour, r10, r9, r8, r7, user_id)
) WITHOUT ROWID;
