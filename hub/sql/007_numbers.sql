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

-- Masking, reviewed: what identifies a natural person is masked, what an
-- organisation registers in public is not.
--   *_name (and name)           '马建军'               -> '马*'
--     except enterprise_name, bank_name: names on the public enterprise
--     register (国家企业信用信息公示系统), kept whole for per-bank and
--     per-enterprise analysis
--   *_id_no (and id_no)         '640425198703120017'   -> '640425********0017'
--   phone, *_phone              '13912345678'          -> '139****5678'
--   address, *_address, location
--                               '彭阳县白阳镇兴彭路12号' -> '彭阳县白阳镇****'
--                               (the county and town, the first six characters;
--                               six or fewer: every character '*')
--   account_no, *_account_no    'P123456789'           -> '******6789'
--                               (a utility or bank account: its last four;
--                               four or fewer: every character '*')
CREATE OR REPLACE FUNCTION analytics.mask_value(attr_name text, attr_value jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN attr_value IS NULL OR jsonb_typeof(attr_value) NOT IN ('string', 'number')
            THEN attr_value
        WHEN attr_name ~* '^(enterprise|bank)_name$' THEN attr_value
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
        WHEN attr_name ~* '((^|_)address|^location)$' THEN
            to_jsonb(CASE WHEN length(t) > 6 THEN left(t, 6) || '****'
                                             ELSE repeat('*', length(t)) END)
        WHEN attr_name ~* '(^|_)account_no$' THEN
            to_jsonb(CASE WHEN length(t) > 4 THEN repeat('*', length(t) - 4) || right(t, 4)
                                             ELSE repeat('*', length(t)) END)
        ELSE attr_value
    END
    FROM (SELECT attr_value #>> '{}' AS t) AS v
$$;

-- A task the folded case no longer calls for is withdrawn, never deleted:
-- an event that arrived late showed the agency had done the step before it
-- was ready, or that the case ended first. The task keeps its seq (the
-- agency's stream stays gap-free) and is delivered marked withdrawn; when
-- a later fold calls for it again, it is reinstated.
ALTER TABLE tasks ADD COLUMN withdrawn_at timestamptz;
ALTER TABLE tasks ADD COLUMN withdrawn_reason text;
COMMENT ON COLUMN tasks.withdrawn_at IS
    'when the folded case stopped calling for the task; NULL while it stands';
