-- The index on positions (ts) cost every appended point a second B-tree insert at a random
-- place (the points of a group commit span minutes of ts interleaved across envoys): it cut
-- ingest to a third. The retention sweep goes envoy by envoy along the primary key instead.
DROP INDEX positions_ts;
