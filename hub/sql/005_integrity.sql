-- 005: a record that cannot be quietly rewritten.
--
-- 1. Every event the hub stores joins a hash chain (one chain per hub id):
--    it carries its sequence number in the chain, the digest of its own
--    content and the digest that links it to its predecessor. `hubctl
--    verify` recomputes them from the stored columns (docs/schema.md, "Hash
--    chain", specifies the bytes). Rows stored before this migration, or
--    inserted behind the hub's back, have no chain columns and verify
--    reports them.
-- 2. Least privilege: group roles onenet_hub (what a running hub needs: it
--    may insert events but never update, delete or truncate them) and
--    onenet_operator (what hubctl needs). The role that applies the
--    migrations owns the tables and is neither of them. Login roles are
--    made members of these groups by deploy/db-setup.sh.
--
-- Applied once per database, in one transaction (see hub/migrate.c).

ALTER TABLE events
    ADD COLUMN chain_id       text,   -- the chain: the hub id of the hub that stored it
    ADD COLUMN seq            bigint, -- position in the chain, 1, 2, 3, ... without gaps
    ADD COLUMN prev_digest    bytea,  -- row_digest of seq - 1 (32 zero bytes for seq 1)
    ADD COLUMN content_digest bytea,  -- SHA-256 of the row's canonical encoding
    ADD COLUMN row_digest     bytea;  -- SHA-256 linking chain, seq, prev and content
-- one writer per chain: a second hub started with the same hub id fails
-- loudly on this constraint instead of forking the chain
ALTER TABLE events ADD CONSTRAINT events_chain_seq UNIQUE (chain_id, seq);
ALTER TABLE events ADD CONSTRAINT events_chain_complete CHECK (
    (chain_id IS NULL AND seq IS NULL AND prev_digest IS NULL
     AND content_digest IS NULL AND row_digest IS NULL)
    OR (chain_id IS NOT NULL AND seq >= 1 AND length(prev_digest) = 32
        AND length(content_digest) = 32 AND length(row_digest) = 32));

COMMENT ON COLUMN events.chain_id IS 'hash chain the row belongs to (the storing hub id)';
COMMENT ON COLUMN events.row_digest IS 'SHA-256 over chain_id, seq, prev_digest, content_digest';

-- The newest row of every chain, written in the transaction that stores
-- it. Lets verify see rows removed from the end of a chain, and a
-- restarting hub continue where it stopped.
CREATE TABLE chain_heads (
    chain_id    text        PRIMARY KEY,
    seq         bigint      NOT NULL,          -- seq of the newest row
    row_digest  bytea       NOT NULL,          -- its row_digest
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE chain_heads IS 'newest row of every hash chain of events';

-- Events stored before this migration have no chain. Their ids are kept
-- here, so that verify tells them from rows inserted later behind the
-- hubs' backs, and notices when one of them is deleted. (Their content is
-- not covered: nothing recorded it before this migration.)
CREATE TABLE events_before_chain (
    event_id    uuid        PRIMARY KEY
);
INSERT INTO events_before_chain (event_id) SELECT event_id FROM events;
COMMENT ON TABLE events_before_chain IS 'ids of the events stored before the hash chain (migration 005)';

-- ---------------------------------------------------------------- roles

-- Like onenet_analyst (004): cluster-wide group roles, created by the first
-- database migrated, found by every later one.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['onenet_hub', 'onenet_operator'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL;   -- created meanwhile by the migration of another database
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'role % does not exist and role % may not create it',
                                    r, current_user
                        USING HINT = format('As a role with CREATEROLE run: CREATE ROLE %I NOLOGIN; '
                                            'then apply the migrations again.', r);
            END;
        END IF;
    END LOOP;
END
$$;

-- Start from nothing: whatever was granted by hand before is withdrawn.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM onenet_hub, onenet_operator;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM onenet_hub, onenet_operator;
GRANT USAGE ON SCHEMA public TO onenet_hub, onenet_operator;

-- The hub: events are insert-only; its working tables it maintains.
GRANT SELECT, INSERT ON events TO onenet_hub;
GRANT SELECT, INSERT, UPDATE ON chain_heads TO onenet_hub;
GRANT SELECT ON schema_migrations TO onenet_hub;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    dead_letters, adapters, calendar_days, workflow_definitions, correlation_queue,
    case_keys, workflow_instances, workflow_steps, instance_events, unmatched_events,
    breaches, agency_task_sequences, tasks
    TO onenet_hub;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO onenet_hub;

-- Operators (hubctl): read everything, change only what hubctl changes:
-- the calendar, the replay marks of dead letters and the correlation queue
-- a replay refills. Never events.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO onenet_operator;
GRANT INSERT, UPDATE, DELETE ON calendar_days TO onenet_operator;
GRANT UPDATE ON dead_letters TO onenet_operator;
GRANT INSERT ON correlation_queue TO onenet_operator;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO onenet_operator;
GRANT USAGE ON SCHEMA analytics TO onenet_operator;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO onenet_operator;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA analytics TO onenet_operator;

-- Both may connect even where CONNECT was revoked from PUBLIC.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO onenet_hub, onenet_operator',
                   current_database());
END
$$;
