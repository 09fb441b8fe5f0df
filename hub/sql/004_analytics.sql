-- 004: the analysts' schema: a stable set of views in the schema
-- "analytics" (docs/analytics.md explains every view and column) and the
-- read-only role onenet_analyst that reads them and nothing else.
--
-- Personal data (names, citizen id numbers, phone numbers in the attributes
-- of events and instances) reaches analysts only masked. The views run with
-- the rights of their owner (the role that applied this migration), so an
-- analyst needs no privilege on the tables in public, and gets none.
--
-- Applied once per database, in one transaction (see hub/migrate.c). The
-- statements are also safe to run again by hand on a database that has them
-- (CREATE ... IF NOT EXISTS, CREATE OR REPLACE, GRANT and REVOKE).
-- Stability: later migrations may add views, and columns at the end of a
-- view, but do not rename or remove what is here.

CREATE SCHEMA IF NOT EXISTS analytics;
COMMENT ON SCHEMA analytics IS
    'onenet views for analysts (docs/analytics.md): personal data masked, read by onenet_analyst';

-- The analyst role. Roles belong to the whole cluster, databases come and
-- go: the first database migrated creates it, every later one finds it.
-- Two databases migrated at the same moment may both try to create it:
-- the loser waits for the winner's commit and then finds the role.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'onenet_analyst') THEN
        BEGIN
            CREATE ROLE onenet_analyst NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;   -- created meanwhile by the migration of another database
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role onenet_analyst does not exist and role % may not create it',
                                current_user
                    USING HINT = 'As a role with CREATEROLE run: CREATE ROLE onenet_analyst NOLOGIN; '
                                 'then apply the migrations again.';
        END;
    END IF;
END
$$;

-- ---------------------------------------------------------------- functions

-- One attribute value as an analyst sees it: names, citizen id numbers and
-- phone numbers masked (by the attribute's name), anything else unchanged.
--   *_name (and name)         '马建军'             -> '马*'
--   *_id_no (and id_no)       '640425198703120017' -> '640425********0017'
--                             (any other length: every character '*')
--   phone, *_phone            '13912345678'        -> '139****5678'
--                             (fewer than 11 characters: every character '*')
CREATE OR REPLACE FUNCTION analytics.mask_value(attr_name text, attr_value jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN attr_value IS NULL OR jsonb_typeof(attr_value) NOT IN ('string', 'number')
            THEN attr_value
        WHEN attr_name ~* '(^|_)name$' THEN
            to_jsonb(CASE WHEN t = '' THEN '' ELSE left(t, 1) || '*' END)
        WHEN attr_name ~* '(^|_)id_no$' THEN
            to_jsonb(CASE WHEN length(t) = 18
                                     THEN left(t, 6) || '********' || right(t, 4)
                                     ELSE repeat('*', length(t)) END)
        WHEN attr_name ~* '(^|_)phone$' THEN
            to_jsonb(CASE WHEN length(t) >= 11
                                     THEN left(t, 3) || '****' || right(t, 4)
                                     ELSE repeat('*', length(t)) END)
        ELSE attr_value
    END
    FROM (SELECT attr_value #>> '{}' AS t) AS v
$$;

-- A jsonb object of attributes (events.attrs, workflow_instances.attrs)
-- with every value passed through mask_value; anything but an object is
-- returned unchanged.
CREATE OR REPLACE FUNCTION analytics.mask_attrs(attrs jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN attrs IS NULL OR jsonb_typeof(attrs) <> 'object' THEN attrs
        ELSE (SELECT coalesce(jsonb_object_agg(e.key,
                                             analytics.mask_value(e.key, e.value)),
                                         '{}'::jsonb)
              FROM jsonb_each(attrs) AS e)
    END
$$;

-- The working-day calendar (no personal data), also read by
-- working_days_between in the analyst's own rights.
CREATE OR REPLACE VIEW analytics.calendar_days AS
SELECT day, workday, name, source, changed_at
FROM public.calendar_days;

-- Working days from one time to another, counted as the hub counts
-- deadlines: the Beijing dates after the date of from_time, up to and
-- including the date of to_time, that are working days (calendar_days, and
-- Monday to Friday for days it does not list). Same day: 0; the next
-- working day: 1; a step due in N working days is on time when
-- working_days_between(clock start, completion) <= N. Negative when
-- to_time is before from_time; NULL when either is NULL.
CREATE OR REPLACE FUNCTION analytics.working_days_between(from_time timestamptz,
                                                          to_time timestamptz)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN d.d1 IS NULL OR d.d2 IS NULL THEN NULL
           ELSE sign(d.d2 - d.d1)::integer
                * (SELECT count(*)::integer
                   FROM generate_series(1, abs(d.d2 - d.d1)) AS g(n)
                   LEFT JOIN analytics.calendar_days c ON c.day = least(d.d1, d.d2) + g.n
                   WHERE coalesce(c.workday,
                             extract(isodow FROM least(d.d1, d.d2) + g.n) < 6))
           END
    FROM (SELECT (from_time AT TIME ZONE 'Asia/Shanghai')::date AS d1,
                 (to_time AT TIME ZONE 'Asia/Shanghai')::date AS d2) AS d
$$;

-- ---------------------------------------------------------------- row views

-- Every stored event, its attributes masked.
CREATE OR REPLACE VIEW analytics.events AS
SELECT event_id, agency, adapter_id, case_no, event_type, occurred_at, accepted_at,
       received_at, stored_at, schema_version, keys,
       analytics.mask_attrs(attrs) AS attrs, hub_id
FROM public.events;

-- Every workflow instance, its attributes masked.
CREATE OR REPLACE VIEW analytics.instances AS
SELECT id, workflow, version, digest, key_kind, key_value, instance_no, state, started_at,
       ended_at, start_event, analytics.mask_attrs(attrs) AS attrs, events, updated_at
FROM public.workflow_instances;

-- Which events make up which instance (ids only).
CREATE OR REPLACE VIEW analytics.instance_events AS
SELECT instance_id, event_id
FROM public.instance_events;

-- Every step of every instance, with its outcome against its deadline.
CREATE OR REPLACE VIEW analytics.steps AS
SELECT s.instance_id, i.workflow, i.key_kind, i.key_value, i.instance_no,
       i.state AS instance_state, s.step, s.agency, s.required, s.ready_at, s.due_at,
       s.completed_at, s.completed_by,
       CASE WHEN NOT s.required THEN 'not_required'
            WHEN s.due_at IS NULL THEN 'no_deadline'
            WHEN s.completed_at <= s.due_at THEN 'on_time'
            WHEN s.completed_at > s.due_at THEN 'late'
            WHEN s.due_at < now() THEN 'overdue_open'
            ELSE 'not_yet_due'
       END AS status,
       date_trunc('month', s.due_at AT TIME ZONE 'Asia/Shanghai')::date AS due_month,
       round(extract(epoch FROM greatest(s.completed_at - s.ready_at, interval '0')) / 3600, 2)
           AS hours_to_complete,
       round(extract(epoch FROM s.completed_at - s.due_at) / 3600, 2) AS hours_after_due
FROM public.workflow_steps s
JOIN public.workflow_instances i ON i.id = s.instance_id;

-- Every supervision breach (督办), with its workflow and case key.
CREATE OR REPLACE VIEW analytics.breaches AS
SELECT b.id, b.instance_id, i.workflow, i.key_kind, i.key_value, b.step, b.agency, b.kind,
       b.due_at, b.detected_at, b.completed_at,
       date_trunc('month', b.due_at AT TIME ZONE 'Asia/Shanghai')::date AS due_month
FROM public.breaches b
JOIN public.workflow_instances i ON i.id = b.instance_id;

-- Completed instances and how long they took.
CREATE OR REPLACE VIEW analytics.instance_durations AS
SELECT id AS instance_id, workflow, key_kind, key_value, instance_no, started_at, ended_at,
       date_trunc('month', ended_at AT TIME ZONE 'Asia/Shanghai')::date AS ended_month,
       round(extract(epoch FROM ended_at - started_at) / 3600, 2) AS hours,
       analytics.working_days_between(started_at, ended_at) AS working_days
FROM public.workflow_instances
WHERE state = 'completed' AND ended_at IS NOT NULL;

-- Instances still running (open or suspended), with their age.
CREATE OR REPLACE VIEW analytics.open_instances AS
SELECT i.id AS instance_id, i.workflow, i.key_kind, i.key_value, i.instance_no, i.state,
       i.started_at, now() - i.started_at AS age,
       CASE WHEN now() - i.started_at < interval '1 day' THEN '<1d'
            WHEN now() - i.started_at < interval '3 days' THEN '1-3d'
            WHEN now() - i.started_at < interval '7 days' THEN '3-7d'
            ELSE '>7d'
       END AS age_bucket,
       (SELECT count(*) FROM public.workflow_steps s
        WHERE s.instance_id = i.id AND s.required AND s.completed_at IS NULL
          AND s.due_at < now()) AS overdue_steps,
       (SELECT min(s.due_at) FROM public.workflow_steps s
        WHERE s.instance_id = i.id AND s.required AND s.completed_at IS NULL
          AND s.due_at >= now()) AS next_due_at
FROM public.workflow_instances i
WHERE i.state IN ('open', 'suspended');

-- ---------------------------------------------------------------- summaries

-- On-time rate per agency per month (the Beijing month of the deadline).
CREATE OR REPLACE VIEW analytics.on_time_by_agency_month AS
SELECT due_month AS month, agency,
       count(*) AS steps_due,
       count(*) FILTER (WHERE status = 'on_time') AS on_time,
       count(*) FILTER (WHERE status = 'late') AS late,
       count(*) FILTER (WHERE status = 'overdue_open') AS overdue_open,
       count(*) FILTER (WHERE status IN ('late', 'overdue_open')) AS missed,
       count(*) FILTER (WHERE status = 'not_yet_due') AS not_yet_due,
       round(count(*) FILTER (WHERE status = 'on_time')::numeric
             / nullif(count(*) FILTER (WHERE status IN ('on_time', 'late', 'overdue_open')), 0),
             4) AS on_time_rate
FROM analytics.steps
WHERE status IN ('on_time', 'late', 'overdue_open', 'not_yet_due')
GROUP BY due_month, agency;

-- On-time rate and time to complete per step of each workflow.
CREATE OR REPLACE VIEW analytics.on_time_by_step AS
SELECT workflow, step, agency,
       count(*) AS required_steps,
       count(*) FILTER (WHERE completed_at IS NOT NULL) AS completed,
       count(*) FILTER (WHERE due_at IS NOT NULL) AS steps_due,
       count(*) FILTER (WHERE status = 'on_time') AS on_time,
       count(*) FILTER (WHERE status = 'late') AS late,
       count(*) FILTER (WHERE status = 'overdue_open') AS overdue_open,
       count(*) FILTER (WHERE status IN ('late', 'overdue_open')) AS missed,
       count(*) FILTER (WHERE status = 'not_yet_due') AS not_yet_due,
       round(count(*) FILTER (WHERE status = 'on_time')::numeric
             / nullif(count(*) FILTER (WHERE status IN ('on_time', 'late', 'overdue_open')), 0),
             4) AS on_time_rate,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY hours_to_complete::float8))::numeric, 2)
           AS p50_hours_to_complete,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY hours_to_complete::float8))::numeric, 2)
           AS p90_hours_to_complete,
       max(hours_after_due) FILTER (WHERE status = 'late') AS max_hours_late
FROM analytics.steps
WHERE required
GROUP BY workflow, step, agency;

-- End-to-end duration per workflow, completed instances.
CREATE OR REPLACE VIEW analytics.durations AS
SELECT workflow,
       count(*) AS completed,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY hours::float8))::numeric, 2) AS p50_hours,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY hours::float8))::numeric, 2) AS p90_hours,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY working_days))::numeric, 2)
           AS p50_working_days,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY working_days))::numeric, 2)
           AS p90_working_days,
       max(hours) AS max_hours
FROM analytics.instance_durations
GROUP BY workflow;

-- The same per month of completion (Beijing time).
CREATE OR REPLACE VIEW analytics.durations_by_month AS
SELECT ended_month AS month, workflow,
       count(*) AS completed,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY hours::float8))::numeric, 2) AS p50_hours,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY hours::float8))::numeric, 2) AS p90_hours,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY working_days))::numeric, 2)
           AS p50_working_days,
       round((percentile_cont(0.9) WITHIN GROUP (ORDER BY working_days))::numeric, 2)
           AS p90_working_days,
       max(hours) AS max_hours
FROM analytics.instance_durations
GROUP BY ended_month, workflow;

-- What is open and how old, per workflow.
CREATE OR REPLACE VIEW analytics.open_backlog AS
SELECT workflow,
       count(*) AS open_instances,
       count(*) FILTER (WHERE state = 'suspended') AS suspended,
       count(*) FILTER (WHERE age_bucket = '<1d') AS age_under_1d,
       count(*) FILTER (WHERE age_bucket = '1-3d') AS age_1_to_3d,
       count(*) FILTER (WHERE age_bucket = '3-7d') AS age_3_to_7d,
       count(*) FILTER (WHERE age_bucket = '>7d') AS age_over_7d,
       count(*) FILTER (WHERE overdue_steps > 0) AS with_overdue_steps,
       min(started_at) AS oldest_started_at
FROM analytics.open_instances
GROUP BY workflow;

-- Breaches per agency per month (the Beijing month of the deadline).
CREATE OR REPLACE VIEW analytics.breaches_by_agency_month AS
SELECT due_month AS month, agency,
       count(*) FILTER (WHERE kind = 'overdue') AS overdue,
       count(*) FILTER (WHERE kind = 'overdue' AND completed_at IS NOT NULL) AS overdue_done_late,
       count(*) FILTER (WHERE kind = 'overdue' AND completed_at IS NULL) AS overdue_not_done,
       count(*) FILTER (WHERE kind = 'warning') AS warnings,
       max(coalesce(completed_at, now()) - due_at) FILTER (WHERE kind = 'overdue') AS worst_delay
FROM analytics.breaches
GROUP BY due_month, agency;

-- Events per adapter per day (the Beijing date the hub received them).
CREATE OR REPLACE VIEW analytics.events_per_adapter_day AS
SELECT (received_at AT TIME ZONE 'Asia/Shanghai')::date AS day, adapter_id, agency,
       count(*) AS events,
       count(DISTINCT event_type) AS event_types,
       min(received_at) AS first_received_at,
       max(received_at) AS last_received_at,
       min(occurred_at) AS oldest_occurred_at,
       max(occurred_at) AS newest_occurred_at
FROM public.events
GROUP BY 1, adapter_id, agency;

COMMENT ON VIEW analytics.calendar_days IS 'working-day calendar (official + operator days)';
COMMENT ON VIEW analytics.events IS 'every stored event; names, id numbers and phones in attrs masked';
COMMENT ON VIEW analytics.instances IS 'every workflow instance; personal data in attrs masked';
COMMENT ON VIEW analytics.instance_events IS 'which events make up which instance';
COMMENT ON VIEW analytics.steps IS 'every step of every instance with its status against its deadline';
COMMENT ON VIEW analytics.breaches IS 'every supervision breach (督办) with workflow and key';
COMMENT ON VIEW analytics.instance_durations IS 'completed instances: hours and working days taken';
COMMENT ON VIEW analytics.open_instances IS 'open and suspended instances with age and overdue steps';
COMMENT ON VIEW analytics.on_time_by_agency_month IS 'on-time rate per agency per Beijing month of the deadline';
COMMENT ON VIEW analytics.on_time_by_step IS 'on-time rate and time to complete per workflow step';
COMMENT ON VIEW analytics.durations IS 'p50/p90 end-to-end duration per workflow (completed instances)';
COMMENT ON VIEW analytics.durations_by_month IS 'durations per workflow per Beijing month of completion';
COMMENT ON VIEW analytics.open_backlog IS 'open instances per workflow by age bucket';
COMMENT ON VIEW analytics.breaches_by_agency_month IS 'breaches per agency per Beijing month of the deadline';
COMMENT ON VIEW analytics.events_per_adapter_day IS 'events per adapter per Beijing day of receipt';

-- ---------------------------------------------------------------- privileges

-- The analyst reads the views of analytics and nothing in public: no
-- privilege on a table of public is ever granted to it (PostgreSQL grants
-- none to PUBLIC either); the revocations below make sure of it even in a
-- database where someone granted some by hand.
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM onenet_analyst;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM onenet_analyst;
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;
GRANT USAGE ON SCHEMA analytics TO onenet_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO onenet_analyst;
-- functions are executable by everyone by default: only by the analyst
-- (and the owner) here
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA analytics FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA analytics TO onenet_analyst;
-- views later migrations add to analytics (as the same role) are readable
-- by the analyst without a further grant
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO onenet_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT EXECUTE ON FUNCTIONS TO onenet_analyst;
-- and it may connect to this database even where CONNECT was revoked from
-- PUBLIC (only a warning when the migrating role cannot grant it)
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO onenet_analyst',
                              current_database());
END
$$;
