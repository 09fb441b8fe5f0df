-- 011: the seed's measures as data, and the titles of workflows and steps.
--
-- seed_items (analysts read it as analytics.seed_items) holds every item
-- (1 to 105) of the Pengyang County 2020 plan (seed/000_5d8650f278844505.txt):
-- its text, the departments responsible, the measure's completion date, the
-- processing limit it sets
-- (as written and, where it is one number of working days, as a number),
-- and which shipped workflows implement it or why none does. Its one
-- source is data/seed_items.tsv: the build puts that file's contents in
-- place of the marker below (hub/sql/embed.cmake), so the hub and hubctl
-- carry it inside their schema. A later change of the file reaches a
-- database through a later migration that loads it again the same way.
--
-- analytics.workflow_step_titles lists, for every definition a hub ran
-- with (analytics.workflow_definitions, migration 009), the workflow's
-- title and seed items and each step's id and title, read from the stored
-- definition itself: the titles are written in the definition files only.
--
-- Applied once per database, in one transaction (see hub/migrate.c).

CREATE TABLE seed_items (
    item         integer PRIMARY KEY CHECK (item BETWEEN 1 AND 105), -- the seed's number
    text         text    NOT NULL,   -- the measure, as the seed writes it (Chinese)
    departments  text    NOT NULL,   -- 责任部门, as written
    completion   text    NOT NULL,   -- 完成时限: when the measure is to be in place
    time_limit   text,               -- the processing limit it sets, as written; NULL: none
    working_days numeric,            -- that limit in working days when it is one number
                                     -- (0: immediate); NULL: none, or several
    workflows    text[]  NOT NULL,   -- shipped workflows whose seed_items name it
    not_covered  text,               -- why no workflow implements it (NULL when one does)
    CHECK ((cardinality(workflows) > 0) <> (not_covered IS NOT NULL))
);
COMMENT ON TABLE seed_items IS
    'the seed''s 105 measures: text, departments, limits, and the workflows that implement each (data/seed_items.tsv)';

INSERT INTO seed_items
SELECT split_part(line, E'\t', 1)::integer,
       split_part(line, E'\t', 2),
       split_part(line, E'\t', 3),
       split_part(line, E'\t', 4),
       nullif(split_part(line, E'\t', 5), ''),
       nullif(split_part(line, E'\t', 6), '')::numeric,
       coalesce(string_to_array(nullif(split_part(line, E'\t', 7), ''), ','), '{}'),
       nullif(split_part(line, E'\t', 8), '')
FROM regexp_split_to_table($tsv$@FILE:data/seed_items.tsv@$tsv$, E'\n')
     WITH ORDINALITY AS t(line, n)
WHERE n > 1 AND line <> '';

-- The outline of one definition file: its title, its seed items and its
-- steps in order with their titles. It reads the YAML the way the shipped
-- definitions are written (docs/workflows.md): top-level `title:` and
-- `seed_items: [...]`, and under `steps:` one `- id:` per step, block style
-- (its `title:` on a line of its own) or flow style (`- {id: x, title: y}`).
-- A title written another way shows as NULL; the hub's own loader
-- (hub/workflow_yaml.c) remains what decides whether a definition is valid.
CREATE FUNCTION analytics.definition_outline(body text)
RETURNS TABLE (workflow_title text, seed_items integer[], step_no integer, step text,
               step_title text)
LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
    line    text;
    in_steps boolean := false;
    m       text[];
    wtitle  text;
    items   integer[];
    ids     text[] := '{}';
    titles  text[] := '{}';
BEGIN
    FOREACH line IN ARRAY string_to_array(body, E'\n') LOOP
        line := regexp_replace(line, E'\r$', '');
        IF line ~ '^[A-Za-z_]+:' THEN                    -- a top-level key
            in_steps := line ~ '^steps:';
            m := regexp_match(line, '^title:\s*(.*?)\s*(#.*)?$');
            IF m IS NOT NULL THEN
                wtitle := btrim(m[1], '"''');
            END IF;
            m := regexp_match(line, '^seed_items:\s*\[([0-9,\s]*)\]');
            IF m IS NOT NULL THEN
                items := string_to_array(regexp_replace(m[1], '\s', '', 'g'), ',')::integer[];
            END IF;
        ELSIF in_steps THEN
            m := regexp_match(line, '^\s*-\s*\{?\s*id:\s*([a-z][a-z0-9_]*)');
            IF m IS NOT NULL THEN
                ids := ids || m[1];
                m := regexp_match(line, '\{.*[{,]\s*title:\s*([^,}]*?)\s*[,}]');
                titles := titles || btrim(m[1], '"''');
            ELSIF cardinality(ids) > 0 AND titles[cardinality(ids)] IS NULL THEN
                m := regexp_match(line, '^\s+title:\s*(.*?)\s*(#.*)?$');
                IF m IS NOT NULL THEN
                    titles[cardinality(ids)] := btrim(m[1], '"''');
                END IF;
            END IF;
        END IF;
    END LOOP;
    IF cardinality(ids) = 0 THEN
        RETURN QUERY SELECT wtitle, items, NULL::integer, NULL::text, NULL::text;
    END IF;
    FOR i IN 1 .. cardinality(ids) LOOP
        RETURN QUERY SELECT wtitle, items, i, ids[i], titles[i];
    END LOOP;
END
$fn$;
COMMENT ON FUNCTION analytics.definition_outline(text) IS
    'a workflow definition''s title, seed items and steps with their titles';

-- The analysts' schema holds views only (migration 004): the table as it is.
CREATE VIEW analytics.seed_items AS
SELECT item, text, departments, completion, time_limit, working_days, workflows, not_covered
FROM public.seed_items;
COMMENT ON VIEW analytics.seed_items IS
    'the seed''s 105 measures: text, departments, limits, and the workflows that implement each';

CREATE VIEW analytics.workflow_step_titles AS
SELECT d.workflow, d.version, d.digest, o.workflow_title, o.seed_items, o.step_no, o.step,
       o.step_title
FROM analytics.workflow_definitions d
CROSS JOIN LATERAL analytics.definition_outline(d.body) o;
COMMENT ON VIEW analytics.workflow_step_titles IS
    'every stored definition''s workflow title, seed items, and each step with its title';

GRANT SELECT ON public.seed_items TO onenet_operator;
GRANT SELECT ON analytics.seed_items, analytics.workflow_step_titles
    TO onenet_operator, onenet_analyst;
REVOKE EXECUTE ON FUNCTION analytics.definition_outline(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION analytics.definition_outline(text) TO onenet_operator, onenet_analyst;
