-- 013: a key's long history is folded once, not on every new event.
--
-- A key's instances are a pure function of its events (hub/fold.h), so
-- every correlated event used to refold the key's whole history: a unit
-- resold for years, or a credit code with years of invoices, cost all of
-- its past on each new event. An event only ever joins a running instance,
-- and a waiting event only an instance that starts within its window; at
-- an instant after which the key has neither, everything before it is
-- final. key_checkpoints keeps, per key, a few such instants its folds
-- fold found (its settled points) and how many runs each workflow had
-- started by each; the next fold reads only the events after the latest
-- point its events all follow, and the whole history only when none does
-- (an event older than every point kept), or when the definitions of the
-- key's kind changed.
--
-- case_keys is read by key and time: its key becomes (key_kind,
-- key_value, occurred_at, event_id), the same size as before. A key's runs
-- are read from an instant, parked events by key: indexes for both.
--
-- Applied once per database, in one transaction (see hub/migrate.c).

CREATE TABLE key_checkpoints (
    key_kind    text        NOT NULL,
    key_value   text        NOT NULL,
    settled_at  timestamptz NOT NULL,          -- nothing before it can change
    runs        jsonb       NOT NULL,          -- per workflow: runs started by then
    definitions text        NOT NULL,          -- "workflow@digest,..." it was judged under
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_kind, key_value, settled_at)
);
COMMENT ON TABLE key_checkpoints IS
    'per correlation key, instants before which its folded state is final: a fold starts from the latest its events follow';

ALTER TABLE case_keys ADD COLUMN occurred_at timestamptz;
UPDATE case_keys c SET occurred_at = e.occurred_at FROM events e WHERE e.event_id = c.event_id;
-- a key row whose event is gone (none should be) is of no use to a fold
DELETE FROM case_keys WHERE occurred_at IS NULL;
ALTER TABLE case_keys ALTER COLUMN occurred_at SET NOT NULL;
ALTER TABLE case_keys DROP CONSTRAINT case_keys_pkey;
ALTER TABLE case_keys ADD PRIMARY KEY (key_kind, key_value, occurred_at, event_id);

DROP INDEX workflow_instances_key;
CREATE INDEX workflow_instances_key ON workflow_instances (key_kind, key_value, started_at);
-- A run is the one its start event began in its workflow (the event's key
-- for the workflow's key kind is the run's key): found by those two alone,
-- a run never competes with a hot key's thousands of runs for an index.
CREATE UNIQUE INDEX workflow_instances_start ON workflow_instances (start_event, workflow);
DROP INDEX workflow_instances_case;
CREATE INDEX unmatched_events_key ON unmatched_events (key_kind, key_value, occurred_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON key_checkpoints TO onenet_hub;
GRANT SELECT ON key_checkpoints TO onenet_operator;

-- Supervision warns of every step past its warning point and not done,
-- overdue or not (a late step was warned of too): its partial index no
-- longer leaves out the steps marked overdue.
DROP INDEX workflow_steps_warn;
CREATE INDEX workflow_steps_warn ON workflow_steps (warn_at)
    WHERE completed_at IS NULL AND warned_at IS NULL AND warn_at IS NOT NULL AND required;
