/*  fuzz_workflow: loading one workflow definition file (hub/workflow_def.c,
    libyaml underneath) as the hub does at start, then using what loaded:
    every step's condition and deadline against an event with no
    attributes, and every event the file names looked up in the set. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hub_config.h"
#include "workflow_def.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static hub_config_t config; /* onenet-hub's defaults: the known agencies */
static const char *agencies[HUB_MAX_AGENCIES];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    char prog[] = "onenet-hub";
    char *args[] = {prog, NULL};
    if (hub_config_load (&config, 1, args) != 0)
        abort ();
    for (size_t i = 0; i < config.n_agencies; i++)
        agencies[i] = config.agency_list[i];
    return 0;
}

static attr_value_t
no_attributes (const char *name, void *user)
{
    return (attr_value_t){.kind = ATTR_VALUE_MISSING};
}

static void
use_refs (const workflow_set_t *set, const event_ref_t *refs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t count;
        workflow_set_relevant (set, refs[i].agency, refs[i].event, &count);
        if (count == 0)
            abort (); /* an event the file names must be found */
        workflow_cond_eval (refs[i].when, no_attributes, NULL);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *path = fuzz_scratch_file (".yaml", data, size);
    char err[8192];
    err[0] = '\0';
    workflow_set_t *set =
        workflow_set_load_file (path, agencies, config.n_agencies, err, sizeof err);
    if (!set) {
        if (!*err)
            abort (); /* a refusal must say why */
        return 0;
    }
    for (size_t w = 0; w < workflow_set_count (set); w++) {
        const workflow_def_t *def = workflow_set_get (set, w);
        if (workflow_set_find (set, def->name) != def)
            abort ();
        use_refs (set, def->starts_on, def->n_starts_on);
        use_refs (set, def->rejects_on, def->n_rejects_on);
        use_refs (set, def->reopens_on, def->n_reopens_on);
        use_refs (set, def->cancels_on, def->n_cancels_on);
        for (size_t s = 0; s < def->n_steps; s++) {
            const step_def_t *step = &def->steps[s];
            workflow_cond_eval (step->when, no_attributes, NULL);
            int amount;
            workflow_deadline_resolve (step, no_attributes, NULL, &amount);
            if (workflow_def_step (def, step->id, NULL) != step)
                abort ();
        }
    }
    workflow_set_destroy (&set);
    return 0;
}
