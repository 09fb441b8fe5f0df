-- 001: the ingest foundation: stored events, dead letters, adapter health.
-- Applied once by onenet-hub at start (see hub/migrate.c); never edited
-- after release: later changes come as new numbered files.

-- Every case event the hub has durably accepted, exactly once per event_id.
CREATE TABLE events (
    event_id        uuid        PRIMARY KEY,       -- globally unique, from the adapter
    agency          text        NOT NULL,          -- agency code: tax, land, power, ...
    adapter_id      text        NOT NULL,          -- adapter instance that accepted it
    case_no         text        NOT NULL,          -- the agency's own case number
    event_type      text        NOT NULL,          -- the agency's vocabulary
    occurred_at     timestamptz NOT NULL,          -- when it happened at the agency
    accepted_at     timestamptz,                   -- when the adapter took it into its outbox
    received_at     timestamptz NOT NULL,          -- when the hub read it off the socket
    stored_at       timestamptz NOT NULL DEFAULT now(), -- commit transaction time
    schema_version  smallint    NOT NULL,          -- wire schema version it came in
    keys            jsonb       NOT NULL,          -- correlation keys: {"unit_number": "...", ...}
    attrs           jsonb       NOT NULL,          -- typed attributes
    hub_id          text        NOT NULL           -- which hub process stored it
);
CREATE INDEX events_agency_case ON events (agency, case_no);
CREATE INDEX events_occurred_at ON events (occurred_at);

COMMENT ON TABLE events IS 'case events durably accepted by a hub, one row per event_id';

-- Everything the hub refused, with the reason, kept for operators to list
-- and replay. One row per (event id, reason); a redelivery of the same bad
-- event counts an attempt instead of adding a row.
CREATE TABLE dead_letters (
    id              bigserial   PRIMARY KEY,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 1,
    hub_id          text        NOT NULL,          -- hub that refused it
    sender          text        NOT NULL,          -- adapter id claimed by the batch, or the peer
    agency          text,                          -- agency claimed by the event, if readable
    event_id        text,                          -- as sent (may be missing or not a UUID)
    case_no         text,
    event_type      text,
    code            text        NOT NULL,          -- machine-readable: MALFORMED, INVALID_KEY, ...
    reason          text        NOT NULL,          -- human-readable: names the field and the value
    payload         bytea,                         -- the event (or message prefix) as received
    replayed_at     timestamptz                    -- set when an operator replays it
);
CREATE UNIQUE INDEX dead_letters_event_code ON dead_letters (event_id, code)
    WHERE event_id IS NOT NULL;
CREATE INDEX dead_letters_first_seen ON dead_letters (first_seen);

-- Last heartbeat of every adapter: liveness and backlog at the agency side.
CREATE TABLE adapters (
    adapter_id      text        PRIMARY KEY,
    agency          text        NOT NULL,
    last_heartbeat  timestamptz NOT NULL,          -- hub time of the last heartbeat
    outbox_depth    bigint      NOT NULL,          -- events waiting for acknowledgement
    oldest_unacked  timestamptz,                   -- accepted_at of the oldest of them
    task_cursor     bigint      NOT NULL DEFAULT 0,
    hub_id          text        NOT NULL           -- hub that heard it
);
