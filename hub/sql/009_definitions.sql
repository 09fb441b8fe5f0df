-- 009: the workflow definitions for analysts.
--
-- The titles of workflows and steps (标题, e.g. 转移登记 for the step
-- registered of property_transfer) are written in the definition files
-- only, and the definitions a hub ran with are stored whole in
-- public.workflow_definitions, which an analyst may not read. A definition
-- holds no personal data: this view hands it over as stored, so that the
-- monthly report (hubctl report, run by an analyst or an operator) and
-- analysts name steps as the definition an instance ran under named them.
-- Join it to analytics.instances on (workflow, version, digest).
--
-- Applied once per database, in one transaction (see hub/migrate.c).

CREATE VIEW analytics.workflow_definitions AS
SELECT workflow, version, digest, source_file, body, first_loaded
FROM public.workflow_definitions;
COMMENT ON VIEW analytics.workflow_definitions IS
    'every workflow definition a hub ran with, the file whole (titles of workflows and steps)';

GRANT SELECT ON analytics.workflow_definitions TO onenet_operator, onenet_analyst;
