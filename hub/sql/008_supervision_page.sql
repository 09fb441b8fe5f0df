-- 008: two analytics views the hub's supervision page (/supervision, read
-- as onenet_analyst) needs, and analysts may use the same way:
--   analytics.open_steps  required steps not done that have a deadline,
--                         whether overdue, warned or still pending, with
--                         the case numbers the agencies know the case by
--   analytics.adapters    every adapter's last heartbeat (no personal data)
-- docs/analytics.md describes them.

CREATE VIEW analytics.open_steps AS
SELECT s.instance_id, i.workflow, i.key_kind, i.key_value, i.instance_no,
       i.state AS instance_state, s.step, s.agency, s.ready_at, s.warn_at, s.due_at,
       CASE WHEN s.due_at < now() THEN 'overdue'
            WHEN s.warn_at <= now() THEN 'warning'
            ELSE 'pending'
       END AS status,
       (SELECT e.case_no FROM public.instance_events ie
        JOIN public.events e ON e.event_id = ie.event_id
        WHERE ie.instance_id = s.instance_id AND e.agency = s.agency
        ORDER BY e.occurred_at, e.event_id LIMIT 1) AS case_no,
       st.agency AS start_agency, st.case_no AS start_case_no
FROM public.workflow_steps s
JOIN public.workflow_instances i ON i.id = s.instance_id
LEFT JOIN public.events st ON st.event_id = i.start_event
WHERE s.required AND s.completed_at IS NULL AND s.due_at IS NOT NULL;
COMMENT ON VIEW analytics.open_steps IS
    'required steps not done that have a deadline: overdue, warning or pending, with case numbers';

CREATE VIEW analytics.adapters AS
SELECT adapter_id, agency, last_heartbeat, outbox_depth, oldest_unacked, hub_id
FROM public.adapters;
COMMENT ON VIEW analytics.adapters IS 'every adapter''s last heartbeat and backlog';

GRANT SELECT ON analytics.open_steps, analytics.adapters TO onenet_operator, onenet_analyst;
