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
-- title and seed items and each step's id, title and agency
-- (definition_steps, below).
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

-- The outline of every definition a hub ran with: the workflow's title and
-- seed items and each step in file order with its title and agency. The
-- hub writes it when it records a definition, from what its own loader
-- read (hub/workflow_yaml.c), and at start for any stored definition that
-- has none yet (one recorded before this migration): the titles are
-- written in the definition files only, and nothing else parses them.
CREATE TABLE definition_steps (
    workflow       text    NOT NULL,
    version        integer NOT NULL,
    digest         text    NOT NULL,
    workflow_title text,              -- title: of the file, NULL when it has none
    seed_items     integer[] NOT NULL, -- seed_items: of the file
    step_no        integer NOT NULL,  -- 1, 2, ... in file order
    step           text    NOT NULL,  -- the step's id
    step_title     text,              -- its title:, NULL when it has none
    agency         text    NOT NULL,  -- the agency that acts
    PRIMARY KEY (workflow, version, digest, step_no),
    FOREIGN KEY (workflow, version, digest) REFERENCES workflow_definitions
);
COMMENT ON TABLE definition_steps IS
    'every recorded definition''s title, seed items and steps with their titles, as the hub read them';

-- The analysts' schema holds views only (migration 004): the table as it is.
CREATE VIEW analytics.seed_items AS
SELECT item, text, departments, completion, time_limit, working_days, workflows, not_covered
FROM public.seed_items;
COMMENT ON VIEW analytics.seed_items IS
    'the seed''s 105 measures: text, departments, limits, and the workflows that implement each';

CREATE VIEW analytics.workflow_step_titles AS
SELECT workflow, version, digest, workflow_title, seed_items, step_no, step, step_title,
       agency
FROM public.definition_steps;
COMMENT ON VIEW analytics.workflow_step_titles IS
    'every stored definition''s workflow title, seed items, and each step with its title';

GRANT SELECT ON public.seed_items, public.definition_steps TO onenet_operator;
GRANT SELECT, INSERT ON public.definition_steps TO onenet_hub;
GRANT SELECT ON analytics.seed_items, analytics.workflow_step_titles
    TO onenet_operator, onenet_analyst;
