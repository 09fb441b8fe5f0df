-- 012: correlation follows each hash chain instead of a queue row per
-- event, and events keeps only the indexes something reads.
--
-- Every event a hub stores takes the next number of its hub's hash chain
-- (migration 005): numbers without gaps, committed in order (the chain's
-- writers hold its advisory lock until they commit). So "stored but not
-- yet correlated" is, for each chain, the events numbered after the last
-- one correlated: correlation_progress keeps that number, one row per
-- chain, and a correlator takes the next events of a chain by
-- (chain_id, seq), the unique index every event has anyway. The store no
-- longer writes a correlation_queue row (two more index entries, a
-- delete and its vacuum) for every event. correlation_queue stays for
-- what asks to be correlated again: a replay (hubctl replay), a re-plan
-- after a calendar change, and the rows queued before this migration.
--
-- Applied once per database, in one transaction (see hub/migrate.c).

CREATE TABLE correlation_progress (
    chain_id    text        PRIMARY KEY REFERENCES chain_heads,
    seq         bigint      NOT NULL,           -- the chain's last correlated event
    updated_at  timestamptz NOT NULL DEFAULT now() -- when it last moved
);
COMMENT ON TABLE correlation_progress IS
    'per hash chain, the number of the last event correlated: those after it wait for correlation';

-- Every event stored so far was queued in correlation_queue (and still is
-- if it waits): the chains start past them.
INSERT INTO correlation_progress (chain_id, seq) SELECT chain_id, seq FROM chain_heads;

-- A new chain (a hub id never seen) starts at 0, in the transaction that
-- stores its first events.
CREATE FUNCTION correlation_progress_for_new_chain() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO public.correlation_progress (chain_id, seq) VALUES (NEW.chain_id, 0)
    ON CONFLICT (chain_id) DO NOTHING;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER chain_heads_new_chain AFTER INSERT ON chain_heads
    FOR EACH ROW EXECUTE FUNCTION correlation_progress_for_new_chain();

-- What waits for correlation, from both sources: what hubctl status, hubctl
-- hubs and the hub's /metrics count as the correlation backlog.
CREATE VIEW correlation_backlog AS
SELECT e.event_id, e.received_at AS enqueued_at, e.hub_id
FROM correlation_progress p
JOIN events e ON e.chain_id = p.chain_id AND e.seq > p.seq
UNION ALL
SELECT q.event_id, q.enqueued_at, e.hub_id
FROM correlation_queue q LEFT JOIN events e ON e.event_id = q.event_id;
COMMENT ON VIEW correlation_backlog IS
    'stored events waiting for correlation: after their chain''s progress, or queued again';

GRANT SELECT, INSERT, UPDATE ON correlation_progress TO onenet_hub;
GRANT SELECT ON correlation_progress, correlation_backlog TO onenet_operator;
GRANT SELECT ON correlation_backlog TO onenet_hub;

-- events: a case found by its number uses events_case_no (migration 007),
-- which serves (agency, case_no) lookups as well; nothing looks events up
-- by agency alone. The time of an event is read in ranges (a month of a
-- report, an analyst's period): a BRIN index, a few pages instead of a
-- B-tree entry per event, as events arrive roughly in the order they
-- happened.
DROP INDEX events_agency_case;
DROP INDEX events_occurred_at;
CREATE INDEX events_occurred_at ON events USING brin (occurred_at);
