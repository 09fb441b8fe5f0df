-- Amounts and measures as exact decimals for analysts.
--
-- An event's number attributes (deed tax in yuan, a loan, an area in m²)
-- are stored in events.attrs as JSON numbers written as the shortest
-- decimal that reads back to the value sent, so the text is what the
-- agency wrote (2718.44, not 2718.4400000000001); jsonb keeps them as
-- numeric. This view hands them over one per row as numeric, so sums and
-- comparisons are exact and no analyst has to cast out of JSON.

CREATE VIEW analytics.event_numbers AS
SELECT e.event_id, e.agency, e.case_no, e.event_type, e.occurred_at, a.key AS name,
       (a.value #>> '{}')::numeric AS value
FROM public.events e
CROSS JOIN LATERAL jsonb_each(analytics.mask_attrs(e.attrs)) AS a
WHERE jsonb_typeof(a.value) = 'number';
COMMENT ON VIEW analytics.event_numbers IS
    'every number attribute of every event, one per row, as an exact numeric';

GRANT SELECT ON analytics.event_numbers TO onenet_operator, onenet_analyst;

-- A case found by the number people know: hubctl show takes any agency's
-- case number without knowing which agency gave it.
CREATE INDEX events_case_no ON events (case_no);
