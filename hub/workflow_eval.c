/*  workflow_eval.c - conditions and deadlines evaluated against a case's
    attributes, and the names of the definition enums; see workflow_def.h. */

#include "workflow_def.h"
#include "workflow_load.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  Evaluation

/*  The attribute called name, MISSING when lookup is NULL.  */
static attr_value_t
s_lookup (attr_lookup_fn lookup, void *user, const char *name)
{
    if (!lookup) {
        attr_value_t missing = {ATTR_VALUE_MISSING, NULL, 0, 0.0, false};
        return missing;
    }
    attr_value_t v = lookup (name, user);
    if (v.kind == ATTR_VALUE_TEXT && !v.text)
        v.kind = ATTR_VALUE_MISSING;
    return v;
}

/*  Typed equality of an attribute and a literal (see condition_t).  */
static bool
s_value_equal (attr_value_t a, const attr_value_t *b)
{
    switch (a.kind) {
    case ATTR_VALUE_TEXT:
        return b->kind == ATTR_VALUE_TEXT && strcmp (a.text, b->text) == 0;
    case ATTR_VALUE_FLAG: return b->kind == ATTR_VALUE_FLAG && a.flag == b->flag;
    case ATTR_VALUE_INTEGER:
        if (b->kind == ATTR_VALUE_INTEGER)
            return a.integer == b->integer;
        return b->kind == ATTR_VALUE_NUMBER && (double) a.integer == b->number;
    case ATTR_VALUE_NUMBER:
        if (b->kind == ATTR_VALUE_NUMBER)
            return a.number == b->number;
        return b->kind == ATTR_VALUE_INTEGER && a.number == (double) b->integer;
    case ATTR_VALUE_MISSING: return false;
    }
    return false;
}

bool
workflow_cond_eval (const condition_t *c, const attr_lookup_fn lookup, void *user)
{
    if (!c)
        return true;
    switch (c->kind) {
    case CONDITION_EQUALS:
    case CONDITION_IN: {
        attr_value_t v = s_lookup (lookup, user, c->attr);
        for (size_t i = 0; i < c->n_values; i++)
            if (s_value_equal (v, &c->values[i]))
                return true;
        return false;
    }
    case CONDITION_EXISTS:
        return (s_lookup (lookup, user, c->attr).kind != ATTR_VALUE_MISSING) == c->exists;
    case CONDITION_NOT: return !workflow_cond_eval (&c->children[0], lookup, user);
    case CONDITION_ALL:
        for (size_t i = 0; i < c->n_children; i++)
            if (!workflow_cond_eval (&c->children[i], lookup, user))
                return false;
        return true;
    case CONDITION_ANY:
        for (size_t i = 0; i < c->n_children; i++)
            if (workflow_cond_eval (&c->children[i], lookup, user))
                return true;
        return false;
    }
    return false;
}

/*  The text form of a value for working_*_by (see s_choice_key); false
    when missing.  */
static bool
s_value_text (attr_value_t v, char *buf, size_t size, const char **text)
{
    switch (v.kind) {
    case ATTR_VALUE_TEXT: *text = v.text; return true;
    case ATTR_VALUE_FLAG: *text = v.flag ? "true" : "false"; return true;
    case ATTR_VALUE_INTEGER:
        snprintf (buf, size, "%" PRId64, v.integer);
        *text = buf;
        return true;
    case ATTR_VALUE_NUMBER:
        if (!isfinite (v.number))
            return false;
        if (wy_is_whole (v.number))
            snprintf (buf, size, "%" PRId64, (int64_t) v.number);
        else
            snprintf (buf, size, "%.17g", v.number);
        *text = buf;
        return true;
    case ATTR_VALUE_MISSING: return false;
    }
    return false;
}

/*  The amount of alternative d for the attributes: see
    workflow_deadline_choose.  */
static deadline_resolution_t
s_deadline_amount (const deadline_spec_t *d, attr_lookup_fn lookup, void *user, int *amount)
{
    int result = d->unit == DEADLINE_IMMEDIATE ? 0 : d->amount;
    if (d->by_attr) {
        char buf[64];
        const char *text;
        bool matched = false;
        if (s_value_text (s_lookup (lookup, user, d->by_attr), buf, sizeof buf, &text))
            for (size_t i = 0; i < d->n_choices && !matched; i++)
                if (strcmp (d->choices[i].value, text) == 0) {
                    result = d->choices[i].amount;
                    matched = true;
                }
        if (!matched) {
            if (!d->has_default)
                return DEADLINE_UNRESOLVED;
            result = d->default_amount;
        }
    }
    if (amount)
        *amount = result;
    return DEADLINE_RESOLVED;
}

deadline_resolution_t
workflow_deadline_choose (const step_def_t *s, attr_lookup_fn lookup, void *user,
                          int *amount, const deadline_spec_t **spec)
{
    assert (s);
    if (spec)
        *spec = NULL;
    for (size_t i = 0; i < s->n_deadlines; i++) {
        const deadline_spec_t *d = &s->deadlines[i];
        if (d->unit == DEADLINE_NONE || !workflow_cond_eval (d->when, lookup, user))
            continue;
        if (spec)
            *spec = d;
        return s_deadline_amount (d, lookup, user, amount);
    }
    return DEADLINE_NOT_APPLICABLE;
}

deadline_resolution_t
workflow_deadline_resolve (const step_def_t *s, attr_lookup_fn lookup, void *user,
                           int *amount)
{
    return workflow_deadline_choose (s, lookup, user, amount, NULL);
}

int
workflow_deadline_amount (const step_def_t *s, attr_lookup_fn lookup, void *user,
                          bool *found)
{
    int amount = 0;
    bool ok = workflow_deadline_resolve (s, lookup, user, &amount) == DEADLINE_RESOLVED;
    if (found)
        *found = ok;
    return ok ? amount : 0;
}

const char *
deadline_unit_name (deadline_unit_t unit)
{
    switch (unit) {
    case DEADLINE_NONE: return "none";
    case DEADLINE_WORKING_DAYS: return "working_days";
    case DEADLINE_WORKING_MINUTES: return "working_minutes";
    case DEADLINE_IMMEDIATE: return "immediate";
    }
    return "unknown";
}

const char *
deadline_from_name (deadline_from_t from)
{
    switch (from) {
    case DEADLINE_FROM_READY: return "ready";
    case DEADLINE_FROM_START: return "start";
    case DEADLINE_FROM_STEP: return "step";
    }
    return "unknown";
}

const char *
reject_effect_name (reject_effect_t effect)
{
    return effect == REJECT_SUSPEND ? "suspend" : effect == REJECT_END ? "end" : "unknown";
}

const char *
workflow_role_name (workflow_role_t role)
{
    switch (role) {
    case WORKFLOW_ROLE_START: return "start";
    case WORKFLOW_ROLE_STEP: return "step";
    case WORKFLOW_ROLE_REJECT: return "reject";
    case WORKFLOW_ROLE_REOPEN: return "reopen";
    case WORKFLOW_ROLE_CANCEL: return "cancel";
    }
    return "unknown";
}
