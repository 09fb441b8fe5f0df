/*  vocabulary: the event types each agency may send, and what each does.

    The hub accepts an event type from an agency when a loaded workflow
    definition names the pair (starts_on, a step's completes_on,
    rejects_on, reopens_on, cancels_on) or the operator lists it in the
    extra-event-types setting (validate_event_type). This module derives
    that vocabulary from the same two sources, for people to read: every
    agency of the hub's agencies setting, sorted by code; each one's event
    types, sorted; for each type, what it does in every workflow
    (workflow_set_relevant, the lookup the hub's own check uses).

    The hub answers it on its control socket ("vocabulary", control.h) and
    hubctl prints it (hubctl workflows --vocabulary), from the hub or from
    a directory of definitions. Both speak the JSON of vocabulary_json:

        {"agencies": [
          {"agency": "land", "event_types": [
            {"event_type": "transfer.accepted", "extra": false, "uses": [
              {"workflow": "property_transfer", "version": 2,
               "role": "start", "step": null, "title": null,
               "effect": null, "when": null}, ...]}, ...]},
          {"agency": "police", "event_types": []}, ...]}

    role is workflow_role_name's ("start", "step", "reject", "reopen",
    "cancel"); step and title name the step a "step" use completes; effect
    is "end" or "suspend" for a "reject"; when is the condition that must
    hold for the use (the event's attributes for start, reject, reopen and
    cancel, the instance's for a step), as text such as
    'grade in ("A", "B", "M")', or null for always. extra is true when the
    type is listed in extra-event-types; such a type may have no uses.
    An agency with no event types has an empty list: the hub refuses all
    its events. */
#ifndef ONENET_VOCABULARY_H
#define ONENET_VOCABULARY_H

#include <stdbool.h>
#include <stddef.h>

#include "hub_config.h"
#include "strbuf.h"
#include "workflow_def.h"

/* Appends the vocabulary of config's agencies under set's definitions and
   config's extra-event-types to out, as the JSON object above. The order
   is deterministic: agencies, then event types, by byte order of their
   codes; uses in workflow_set_relevant's order (workflow, then start,
   steps in file order, reject, reopen, cancel). Allocation failure
   aborts. */
void vocabulary_json (const hub_config_t *config, const workflow_set_t *set, strbuf_t *out);

/* Appends condition c as text: 'attr = value', 'attr in (v, ...)',
   'attr is given' / 'attr is not given', 'not (...)', '... and ...',
   '... or ...' (nested groups in parentheses); text values in double
   quotes, flags and numbers bare. */
void vocabulary_condition_text (const condition_t *c, strbuf_t *out);

#endif
