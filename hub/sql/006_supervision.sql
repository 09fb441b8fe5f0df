-- 006: supervision that follows the calendar and the folded case.
--
-- 1. A breach whose cause a later fold removed (the step was in fact done
--    in time, the deadline moved with the calendar, the case was withdrawn
--    before its deadline, the step is no longer required) is not deleted:
--    it is marked withdrawn, with the reason, and leaves the counts (the
--    analytics views and the monthly report). A breach that holds again
--    later is reinstated.
-- 2. The years whose official arrangement (the State Council's 节假日安排)
--    the calendar holds: deadlines counted into any other year use the
--    weekend rule only and are marked provisional. The shipped years are
--    seeded by the hubs; `hubctl calendar import` adds a year.
-- 4. Tasks are never lost: an instance a refold retires (a late event
--    merged two runs of a workflow) is kept as 'superseded' instead of
--    deleted, and nothing deletes a task with its instance any more, so
--    the per-agency task sequence stays gap-free.
-- 3. Every change of calendar_days or calendar_years is logged in
--    calendar_changes (by trigger, whoever makes it). The hubs re-plan
--    every deadline whose counting window covers a changed day, once per
--    change across all hubs (calendar_replanned holds how far they got).
--
-- Applied once per database, in one transaction (see hub/migrate.c).

ALTER TABLE breaches
    ADD COLUMN withdrawn_at     timestamptz,  -- when a fold found its cause gone (NULL: stands)
    ADD COLUMN withdrawn_reason text;         -- why, e.g. "done in time (due moved)"
COMMENT ON COLUMN breaches.withdrawn_at IS 'set when a later fold removed the cause; out of the counts';

ALTER TABLE workflow_steps
    ADD COLUMN provisional boolean NOT NULL DEFAULT false; -- due counted past the known calendar

-- 5. An instance is a case: its row is the run that its start event began,
--    whatever number the runs of its key get. A case that arrives late and
--    happened earlier takes number 1 without taking over another case's row
--    (and with it that case's tasks and breaches).
DO $$
DECLARE c text;
BEGIN
    SELECT conname INTO c FROM pg_constraint
    WHERE conrelid = 'workflow_instances'::regclass AND contype = 'u';
    IF c IS NOT NULL THEN
        EXECUTE format('ALTER TABLE workflow_instances DROP CONSTRAINT %I', c);
    END IF;
END $$;
CREATE UNIQUE INDEX workflow_instances_case
    ON workflow_instances (workflow, key_kind, key_value, start_event);
COMMENT ON COLUMN workflow_instances.instance_no IS
    'the run''s number among its key''s runs of the workflow, in start order (a display number)';

ALTER TABLE tasks DROP CONSTRAINT tasks_instance_id_fkey;
ALTER TABLE tasks ADD CONSTRAINT tasks_instance_id_fkey
    FOREIGN KEY (instance_id) REFERENCES workflow_instances (id) ON DELETE RESTRICT;
COMMENT ON COLUMN workflow_instances.state IS
    'open, suspended, completed, rejected, cancelled, or superseded (a refold merged it away)';
COMMENT ON COLUMN workflow_steps.provisional IS
    'due_at counted through a year whose official arrangement is not loaded (weekends only)';

-- the official arrangement of a day, kept when an operator overrides it, so
-- that removing the override restores it (shipped or imported alike)
ALTER TABLE calendar_days
    ADD COLUMN official_workday boolean,  -- the official value (NULL: none for this day)
    ADD COLUMN official_name    text;
UPDATE calendar_days SET official_workday = workday, official_name = name
WHERE source = 'official';

CREATE TABLE calendar_years (
    year        integer     PRIMARY KEY CHECK (year BETWEEN 1 AND 9999),
    source      text        NOT NULL,          -- 'official' (shipped) or 'import' (a notice file)
    papers      text        NOT NULL DEFAULT '', -- the notice(s) it came from
    loaded_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE calendar_years IS 'years whose official working-day arrangement calendar_days holds';

-- the years the official days already stored cover
INSERT INTO calendar_years (year, source)
SELECT DISTINCT extract(year FROM day)::integer, 'official'
FROM calendar_days WHERE source = 'official'
ON CONFLICT DO NOTHING;

-- The years of the coming `days` days (Beijing dates) that have no official
-- arrangement, as "2027" or "2026, 2027"; NULL when all are covered. The hub
-- warns with it at start, hubctl status on every call.
CREATE FUNCTION calendar_uncovered_years(days integer) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(y::text, ', ' ORDER BY y)
    FROM (SELECT DISTINCT extract(year FROM d)::integer AS y
          FROM generate_series((now() AT TIME ZONE 'Asia/Shanghai')::date,
                               (now() AT TIME ZONE 'Asia/Shanghai')::date + days,
                               interval '1 day') AS g(d)) AS n
    WHERE NOT EXISTS (SELECT 1 FROM public.calendar_years c WHERE c.year = n.y)
$$;

CREATE TABLE calendar_changes (
    id          bigserial   PRIMARY KEY,
    first_day   date        NOT NULL,          -- the changed days: first_day .. last_day
    last_day    date        NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE calendar_changes IS 'log of calendar changes, for re-planning open deadlines';

-- one row: the last calendar_changes id whose deadlines were re-planned
CREATE TABLE calendar_replanned (
    one         boolean     PRIMARY KEY DEFAULT true CHECK (one),
    last_id     bigint      NOT NULL,
    replanned_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO calendar_replanned (last_id) VALUES (0);

-- SECURITY DEFINER: the hub and operator roles change the calendar but
-- need no right on the log
CREATE FUNCTION calendar_days_logged() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.day = OLD.day AND NEW.workday = OLD.workday THEN
        RETURN NULL;                     -- a new name or source moves no deadline
    END IF;
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO calendar_changes (first_day, last_day) VALUES (OLD.day, OLD.day);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO calendar_changes (first_day, last_day) VALUES (NEW.day, NEW.day);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER calendar_days_logged AFTER INSERT OR UPDATE OR DELETE ON calendar_days
    FOR EACH ROW EXECUTE FUNCTION calendar_days_logged();

CREATE FUNCTION calendar_years_logged() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE y integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.year ELSE NEW.year END;
BEGIN
    INSERT INTO calendar_changes (first_day, last_day)
    VALUES (make_date(y, 1, 1), make_date(y, 12, 31));
    RETURN NULL;
END $$;
CREATE TRIGGER calendar_years_logged AFTER INSERT OR DELETE ON calendar_years
    FOR EACH ROW EXECUTE FUNCTION calendar_years_logged();

-- Breaches that stand, for analysts; the withdrawn ones on their own.
CREATE OR REPLACE VIEW analytics.breaches AS
SELECT b.id, b.instance_id, i.workflow, i.key_kind, i.key_value, b.step, b.agency, b.kind,
       b.due_at, b.detected_at, b.completed_at,
       date_trunc('month', b.due_at AT TIME ZONE 'Asia/Shanghai')::date AS due_month
FROM public.breaches b
JOIN public.workflow_instances i ON i.id = b.instance_id
WHERE b.withdrawn_at IS NULL;
COMMENT ON VIEW analytics.breaches IS
    'every supervision breach (督办) that stands, with workflow and key';

CREATE VIEW analytics.breaches_withdrawn AS
SELECT b.id, b.instance_id, i.workflow, i.key_kind, i.key_value, b.step, b.agency, b.kind,
       b.due_at, b.detected_at, b.completed_at, b.withdrawn_at, b.withdrawn_reason
FROM public.breaches b
JOIN public.workflow_instances i ON i.id = b.instance_id
WHERE b.withdrawn_at IS NOT NULL;
COMMENT ON VIEW analytics.breaches_withdrawn IS
    'breaches a later fold withdrew (history, out of every count), with the reason';

CREATE VIEW analytics.calendar_years AS
SELECT year, source, papers, loaded_at FROM public.calendar_years;
COMMENT ON VIEW analytics.calendar_years IS
    'years whose official working-day arrangement the calendar holds';

-- privileges, as migration 005 gives them
GRANT SELECT, INSERT, UPDATE, DELETE ON calendar_years, calendar_replanned TO onenet_hub;
GRANT SELECT ON calendar_changes TO onenet_hub;
GRANT SELECT ON calendar_years, calendar_changes, calendar_replanned TO onenet_operator;
GRANT INSERT, UPDATE, DELETE ON calendar_years TO onenet_operator;
GRANT SELECT ON analytics.breaches_withdrawn, analytics.calendar_years
    TO onenet_operator, onenet_analyst;
