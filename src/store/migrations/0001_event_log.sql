-- The hash-chained event log, the network it belongs to, and state snapshots.
-- Migrations are append-only: never edit this file once released; add 0002_*.sql instead.
-- The migrator records a checksum of every applied file and refuses to start if one changed.

-- `json` holds the canonical JSON (RFC 8785) of encodeLogEvent as text. Not jsonb: jsonb reorders
-- keys and normalizes the bytes the hash was computed over. seq/hash/prev are copied out of it so
-- the primary key can make two writers of the same seq collide, and so readers can page by seq.
CREATE TABLE events (
  seq  int8 PRIMARY KEY CHECK (seq >= 0),
  hash text NOT NULL,
  prev text NOT NULL,
  json text NOT NULL
);

-- Facts about the log as a whole. `net` is written in the same transaction as the genesis event.
CREATE TABLE meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);

-- The encoded state after applying event `seq`, with that event's hash so recovery can verify
-- the chain from here without reading the events before it.
CREATE TABLE snapshots (
  seq        int8 PRIMARY KEY REFERENCES events (seq),
  event_hash text NOT NULL,
  state_hash text NOT NULL,
  state      bytea NOT NULL
);
