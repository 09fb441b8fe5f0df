-- 002: one-network workflows: correlation, instances, steps, deadlines,
-- supervision, and the working-day calendar they are counted on.

-- The official working-day calendar (weekends are off unless listed here
-- as working days; listed days override the weekend rule). Hubs seed it
-- from the calendar they carry (source 'official') without touching rows
-- that exist; operators add years or override days (source 'operator')
-- and hubs pick the change up without a rebuild or restart.
CREATE TABLE calendar_days (
    day         date        PRIMARY KEY,
    workday     boolean     NOT NULL,          -- true: a working day (e.g. 调休 make-up Saturday)
    name        text        NOT NULL DEFAULT '', -- 春节, 国庆节, ...
    source      text        NOT NULL DEFAULT 'operator', -- 'official' or 'operator'
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- Every workflow definition a hub has run with. Instances point at the
-- version and digest they started under; a changed definition gets a new
-- row and never rewrites running instances.
CREATE TABLE workflow_definitions (
    workflow    text        NOT NULL,          -- definition name, e.g. property_transfer
    version     integer     NOT NULL,          -- version: field of the file
    digest      text        NOT NULL,          -- digest of the file's bytes
    source_file text        NOT NULL,          -- file name it was loaded from
    body        text        NOT NULL,          -- the definition file itself
    first_loaded timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow, version, digest)
);

-- Events stored but not yet correlated. Written in the same transaction
-- as the event, removed in the transaction that correlates it.
CREATE TABLE correlation_queue (
    event_id    uuid        PRIMARY KEY,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX correlation_queue_enqueued ON correlation_queue (enqueued_at);

-- Every correlation key of every correlated event: the index a case is
-- folded from.
CREATE TABLE case_keys (
    key_kind    text        NOT NULL,          -- credit_code, unit_number, ...
    key_value   text        NOT NULL,
    event_id    uuid        NOT NULL,
    PRIMARY KEY (key_kind, key_value, event_id)
);

-- One row per workflow instance: the nth run of a workflow for a key.
CREATE TABLE workflow_instances (
    id          bigserial   PRIMARY KEY,
    workflow    text        NOT NULL,
    version     integer     NOT NULL,          -- definition version it started under
    digest      text        NOT NULL,          -- definition digest it started under
    key_kind    text        NOT NULL,
    key_value   text        NOT NULL,
    instance_no integer     NOT NULL,          -- 1 for the key's first run of this workflow, 2 ...
    state       text        NOT NULL,          -- open, suspended, completed, rejected, cancelled
    started_at  timestamptz NOT NULL,          -- occurred_at of the start event
    ended_at    timestamptz,                   -- completed, rejected or cancelled at
    start_event uuid        NOT NULL,
    attrs       jsonb       NOT NULL DEFAULT '{}', -- attributes of its events, later ones winning
    events      integer     NOT NULL,          -- events correlated into it
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow, key_kind, key_value, instance_no)
);
CREATE INDEX workflow_instances_key ON workflow_instances (key_kind, key_value);
CREATE INDEX workflow_instances_state ON workflow_instances (state, workflow, started_at);

-- One row per step of an instance.
CREATE TABLE workflow_steps (
    instance_id bigint      NOT NULL REFERENCES workflow_instances (id) ON DELETE CASCADE,
    step        text        NOT NULL,          -- step id in the definition
    agency      text        NOT NULL,          -- who must act
    required    boolean     NOT NULL,          -- its condition holds for this case
    ready_at    timestamptz,                   -- prerequisites all done at
    due_at      timestamptz,                   -- deadline (end of the Nth working day, ...)
    warn_at     timestamptz,                   -- warning point (warn_at share of the time allowed)
    completed_at timestamptz,                  -- occurred_at of the completing event
    completed_by uuid,                         -- that event
    warned_at   timestamptz,                   -- when supervision warned (set by the hub)
    overdue_at  timestamptz,                   -- when supervision marked it overdue
    PRIMARY KEY (instance_id, step)
);
-- supervision reads only what falls due: cost follows deadlines passing,
-- not the number of open steps
CREATE INDEX workflow_steps_due ON workflow_steps (due_at)
    WHERE completed_at IS NULL AND overdue_at IS NULL AND due_at IS NOT NULL AND required;
CREATE INDEX workflow_steps_warn ON workflow_steps (warn_at)
    WHERE completed_at IS NULL AND warned_at IS NULL AND overdue_at IS NULL
      AND warn_at IS NOT NULL AND required;

-- Which events make up which instance.
CREATE TABLE instance_events (
    instance_id bigint      NOT NULL REFERENCES workflow_instances (id) ON DELETE CASCADE,
    event_id    uuid        NOT NULL,
    PRIMARY KEY (instance_id, event_id)
);
CREATE INDEX instance_events_event ON instance_events (event_id);

-- Events relevant to a workflow that no instance has taken (yet): parked
-- until an instance starts or expires_at passes; expired ones stay listed.
CREATE TABLE unmatched_events (
    event_id    uuid        NOT NULL,
    key_kind    text        NOT NULL,
    key_value   text        NOT NULL,
    agency      text        NOT NULL,
    event_type  text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    expired_at  timestamptz,                   -- set when the TTL passed unmatched
    PRIMARY KEY (event_id, key_kind, key_value)
);
CREATE INDEX unmatched_events_expiry ON unmatched_events (expires_at) WHERE expired_at IS NULL;

-- Supervision (督办): every warning and every missed deadline.
CREATE TABLE breaches (
    id          bigserial   PRIMARY KEY,
    instance_id bigint      NOT NULL REFERENCES workflow_instances (id) ON DELETE CASCADE,
    step        text        NOT NULL,
    agency      text        NOT NULL,
    kind        text        NOT NULL,          -- warning, overdue
    due_at      timestamptz NOT NULL,
    detected_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,                  -- when the step was done after all (late)
    UNIQUE (instance_id, step, kind)
);
CREATE INDEX breaches_agency ON breaches (agency, detected_at);
