-- 010: what the adapters refused, seen from the centre.
--
-- A record an adapter cannot map (not JSON, a field missing, a credit code
-- that fails its check ...) never becomes an event, and an event a hub
-- REJECTED is not sent again: both stay in the adapter's own quarantine
-- (its SQLite outbox). Adapters now report that quarantine with their
-- heartbeats (proto/onenet.proto, Heartbeat fields 8 to 11): how many rows
-- it holds, by code, and each row once, a few per heartbeat.
--   adapters          gains the counts of the last heartbeat that had them
--   adapter_rejects   one row per quarantined record or event, stored once
--                     however often a heartbeat carries it
--   analytics.adapter_rejects, analytics.adapters: for analysts and the
--                     monthly report, without the reasons (see below)
--
-- Applied once per database, in one transaction (see hub/migrate.c).

ALTER TABLE adapters
    ADD COLUMN quarantined          bigint,  -- rows in the adapter's quarantine (NULL: never reported)
    ADD COLUMN quarantined_refused  bigint,  -- of them records the adapter refused (BAD_RECORD)
    ADD COLUMN quarantined_rejected bigint,  -- of them events a hub rejected (the hub's codes)
    ADD COLUMN quarantined_by_code  jsonb;   -- {"BAD_RECORD": 8, "INVALID_KEY": 1, ...}
COMMENT ON COLUMN adapters.quarantined IS
    'rows in the adapter''s quarantine at its last heartbeat that counted them';

CREATE TABLE adapter_rejects (
    id           bigserial   PRIMARY KEY,
    adapter_id   text        NOT NULL,          -- the adapter that quarantined it
    agency       text        NOT NULL,          -- its agency
    seq          bigint      NOT NULL,          -- the row's number in the adapter's quarantine
    place        text        NOT NULL,          -- file:line, "table T row N", "event <event id>"
    code         text        NOT NULL,          -- BAD_RECORD, or the hub's code (INVALID_KEY, ...)
    reason       text        NOT NULL,          -- why, naming the field; may quote its value
    event_id     text,                          -- the event a hub rejected; NULL for a record
    rejected_at  timestamptz NOT NULL,          -- when the adapter quarantined it (its clock)
    reported_at  timestamptz NOT NULL DEFAULT now(), -- when a hub first stored the report
    hub_id       text        NOT NULL           -- that hub
);
-- a sample sent again (its confirmation lost, the adapter restarted) is
-- the same row
CREATE UNIQUE INDEX adapter_rejects_once
    ON adapter_rejects (adapter_id, place, code, rejected_at);
CREATE INDEX adapter_rejects_rejected_at ON adapter_rejects (rejected_at);
COMMENT ON TABLE adapter_rejects IS
    'records and events in the adapters'' quarantines, as their heartbeats reported them';

-- For analysts. The reason names the field and quotes the value that
-- failed: a name, an identity card number, a phone number may be in it.
-- So analysts get the field it names (never a value), the code and the
-- place (a file and line, a table row, an event id), not the reason; the
-- record itself never leaves the adapter. Operators read the reasons in
-- public.adapter_rejects (hubctl rejects).
CREATE VIEW analytics.adapter_rejects AS
SELECT id, adapter_id, agency, place, code,
       CASE WHEN code = 'BAD_RECORD' THEN 'refused' ELSE 'rejected' END AS kind,
       coalesce(substring(reason FROM 'field "([^"]{1,64})"'),
                substring(reason FROM '^(keys\.[a-z_]{1,32}|event_type|event type|'
                                      'occurred_at|case_no)')) AS field,
       event_id, rejected_at,
       date_trunc('month', rejected_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
       reported_at, hub_id
FROM public.adapter_rejects;
COMMENT ON VIEW analytics.adapter_rejects IS
    'records and events refused at the agencies (adapters'' quarantines): the field, not the reason';

-- analytics.adapters (008) with the counts, columns added at the end
CREATE OR REPLACE VIEW analytics.adapters AS
SELECT adapter_id, agency, last_heartbeat, outbox_depth, oldest_unacked, hub_id,
       quarantined, quarantined_refused, quarantined_rejected, quarantined_by_code
FROM public.adapters;

-- privileges, as migration 005 gives them: the hub stores the reports,
-- operators read them, analysts read the views
GRANT SELECT, INSERT ON adapter_rejects TO onenet_hub;
GRANT USAGE, SELECT ON SEQUENCE adapter_rejects_id_seq TO onenet_hub;
GRANT SELECT ON adapter_rejects TO onenet_operator;
GRANT SELECT ON analytics.adapter_rejects, analytics.adapters
    TO onenet_operator, onenet_analyst;
