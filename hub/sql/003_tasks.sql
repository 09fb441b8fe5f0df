-- 003: tasks the hub hands back to agencies (item 28: when the land
-- registration completes, power and water must transfer the account).

-- The last task number given to each agency: tasks of one agency are
-- numbered 1, 2, 3 ... without gaps, so an adapter resumes from its cursor.
CREATE TABLE agency_task_sequences (
    agency      text        PRIMARY KEY,
    last_seq    bigint      NOT NULL DEFAULT 0
);

-- One task per (instance, step) that needs an agency to act. Written in the
-- same transaction as the workflow state that caused it.
CREATE TABLE tasks (
    id          bigserial   PRIMARY KEY,
    agency      text        NOT NULL,          -- who must act
    seq         bigint      NOT NULL,          -- the agency's own sequence number
    kind        text        NOT NULL,          -- the step's task: account.transfer, ...
    instance_id bigint      NOT NULL REFERENCES workflow_instances (id) ON DELETE CASCADE,
    step        text        NOT NULL,          -- the step it completes when done
    workflow    text        NOT NULL,
    key_kind    text        NOT NULL,          -- the case's correlation key
    key_value   text        NOT NULL,
    payload     jsonb       NOT NULL,          -- what the agency needs: the case's attributes
    ready_at    timestamptz NOT NULL,          -- when the step became ready (the cause)
    due_at      timestamptz,                   -- the step's deadline at issue time
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agency, seq),
    UNIQUE (instance_id, step)
);
CREATE INDEX tasks_created ON tasks (created_at);
