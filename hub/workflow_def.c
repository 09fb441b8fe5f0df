/*  workflow_def.c - one-network workflow definitions, see workflow_def.h

    Loading runs in three passes per file. libyaml's event API turns the
    bytes into a small tree of nodes (scalar, list, mapping), each with
    its line and column; the tree lives in a scratch arena that is dropped
    after the file. A schema pass then walks the tree, checks every key,
    type and name, and copies what it accepts into the set's arena as the
    public structs. A last pass resolves step ids (after, from,
    completes_when) and checks the graph of prerequisites for cycles.
    Problems never stop a pass: each is recorded with its position and the
    pass goes on, so that one run lists everything that is wrong. Only a
    YAML syntax error ends the file, since nothing after it can be trusted.

    Once every file is loaded and nothing is wrong, the set builds one
    index of (agency, event type) pairs sorted by agency and event, with
    what each pair does to which workflow, so that routing an event costs
    one binary search.
*/

#include "workflow_def.h"
#include "workflow_load.h"

#include "ident.h"
#include "strbuf.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h> //  isfinite, a macro: no libm needed
#include <stdarg.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

//  --------------------------------------------------------------------------
//  Conditions

static const char *const s_cond_keys[] = {"attr", "equals", "in",  "exists",
                                          "not",  "all",    "any", NULL};

/*  A literal value in a condition: a plain true/false is a flag, a plain
    integer an integer, a plain number a number, anything else text.
    False after a problem (null, a list, a mapping).  */
static bool
s_literal (loader_t *ld, const node_t *node, const char *what, attr_value_t *out)
{
    memset (out, 0, sizeof *out);
    if (node->kind != NODE_SCALAR || wy_is_null (node)) {
        char found[64];
        wy_problem_at (ld, node, "%s must be text, a number or true/false, found %s", what,
                       wy_found (node, found, sizeof found));
        return false;
    }
    bool flag;
    int64_t integer;
    double number;
    if (wy_plain_bool (node, &flag)) {
        out->kind = ATTR_VALUE_FLAG;
        out->flag = flag;
    }
    else if (wy_plain_int (node, &integer)) {
        out->kind = ATTR_VALUE_INTEGER;
        out->integer = integer;
    }
    else if (wy_plain_number (node, &number)) {
        out->kind = ATTR_VALUE_NUMBER;
        out->number = number;
    }
    else {
        out->kind = ATTR_VALUE_TEXT;
        out->text = wy_arena_strdup (ld->arena, node->text);
    }
    return true;
}

/*  Parses a condition into *out (zeroed by the caller); records problems
    and returns false when it is not well formed.  */
static bool
s_condition (loader_t *ld, const node_t *node, const char *where, condition_t *out,
             int depth)
{
    out->line = node->line;
    out->col = node->col;
    char what[200];
    snprintf (what, sizeof what, "condition of %s", where);
    if (!wy_is_map (ld, node, what))
        return false;
    if (depth > 16) {
        wy_problem_at (ld, node, "condition of %s is nested deeper than 16 levels", where);
        return false;
    }
    wy_check_keys (ld, node, s_cond_keys, what);
    const node_t *attr = wy_get (node, "attr");
    const node_t *not_node = wy_get (node, "not");
    const node_t *all = wy_get (node, "all");
    const node_t *any = wy_get (node, "any");
    int forms = (attr != NULL) + (not_node != NULL) + (all != NULL) + (any != NULL);
    if (forms != 1) {
        wy_problem_at (ld, node,
                       forms ? "condition of %s mixes attr, not, all and any; give one"
                             : "condition of %s needs attr, not, all or any",
                       where);
        return false;
    }
    if (not_node || all || any) {
        if (wy_get (node, "equals") || wy_get (node, "in") || wy_get (node, "exists")) {
            wy_problem_at (ld, node, "condition of %s: equals, in and exists go with attr",
                           where);
            return false;
        }
        if (not_node) {
            out->kind = CONDITION_NOT;
            condition_t *child = (condition_t *) wy_arena_alloc (ld->arena, sizeof *child);
            out->children = child;
            out->n_children = 1;
            return s_condition (ld, not_node, where, child, depth + 1);
        }
        const node_t *list = all ? all : any;
        out->kind = all ? CONDITION_ALL : CONDITION_ANY;
        snprintf (what, sizeof what, "%s in condition of %s", all ? "all" : "any", where);
        if (!wy_is_list (ld, list, what))
            return false;
        condition_t *children =
            (condition_t *) wy_arena_alloc (ld->arena, (list->n + 1) * sizeof *children);
        bool ok = true;
        for (size_t i = 0; i < list->n; i++)
            ok = s_condition (ld, list->items[i], where, &children[i], depth + 1) && ok;
        out->children = children;
        out->n_children = list->n;
        return ok;
    }
    //  {attr: X, equals|in|exists: ...}
    snprintf (what, sizeof what, "attr in condition of %s", where);
    const char *name = wy_text (ld, attr, what);
    if (!name)
        return false;
    if (!wy_attr_name_ok (name)) {
        wy_problem_at (ld, attr,
                       "attribute name \"%s\" in condition of %s is not 1 to 64 characters "
                       "of A-Z, a-z, 0-9 and _",
                       name, where);
        return false;
    }
    out->attr = name;
    const node_t *equals = wy_get (node, "equals");
    const node_t *in = wy_get (node, "in");
    const node_t *exists = wy_get (node, "exists");
    int tests = (equals != NULL) + (in != NULL) + (exists != NULL);
    if (tests != 1) {
        wy_problem_at (ld, node,
                       tests
                           ? "condition on \"%s\" in %s gives more than one of equals, in "
                             "and exists; give one"
                           : "condition on \"%s\" in %s needs equals, in or exists",
                       name, where);
        return false;
    }
    if (equals) {
        out->kind = CONDITION_EQUALS;
        attr_value_t *value = (attr_value_t *) wy_arena_alloc (ld->arena, sizeof *value);
        out->values = value;
        out->n_values = 1;
        snprintf (what, sizeof what, "equals in condition of %s", where);
        return s_literal (ld, equals, what, value);
    }
    if (in) {
        out->kind = CONDITION_IN;
        snprintf (what, sizeof what, "in in condition of %s", where);
        if (!wy_is_list (ld, in, what))
            return false;
        if (in->n == 0) {
            wy_problem_at (ld, in, "in in condition of %s lists no values", where);
            return false;
        }
        attr_value_t *values =
            (attr_value_t *) wy_arena_alloc (ld->arena, in->n * sizeof *values);
        bool ok = true;
        for (size_t i = 0; i < in->n; i++)
            ok = s_literal (ld, in->items[i], what, &values[i]) && ok;
        out->values = values;
        out->n_values = in->n;
        return ok;
    }
    out->kind = CONDITION_EXISTS;
    if (!wy_plain_bool (exists, &out->exists)) {
        char found[64];
        wy_problem_at (ld, exists,
                       "exists in condition of %s must be true or false, found %s", where,
                       wy_found (exists, found, sizeof found));
        return false;
    }
    return true;
}

/*  Parses an optional 'when' into an arena condition; NULL when absent or
    bad (bad is recorded).  */
static const condition_t *
s_when (loader_t *ld, const node_t *node, const char *where)
{
    if (!node)
        return NULL;
    condition_t *cond = (condition_t *) wy_arena_alloc (ld->arena, sizeof *cond);
    return s_condition (ld, node, where, cond, 0) ? cond : NULL;
}

//  --------------------------------------------------------------------------
//  Event references (starts_on, rejects_on, reopens_on, cancels_on)

static const char *const s_ref_keys[] = {"agency", "event", "when", NULL};
static const char *const s_reject_keys[] = {"agency", "event", "when", "effect", NULL};

/*  Parses the list under key of the workflow map into *refs. Records
    problems; entries with problems are left out.  */
static void
s_event_refs (loader_t *ld, const node_t *workflow, const char *key, bool is_reject,
              const event_ref_t **refs, size_t *n_refs)
{
    *refs = NULL;
    *n_refs = 0;
    const node_t *list = wy_get (workflow, key);
    if (!list || !wy_is_list (ld, list, key))
        return;
    event_ref_t *out =
        (event_ref_t *) wy_arena_alloc (ld->arena, (list->n + 1) * sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < list->n; i++) {
        const node_t *item = list->items[i];
        char where[64];
        snprintf (where, sizeof where, "%s entry %zu", key, i + 1);
        if (!wy_is_map (ld, item, where))
            continue;
        wy_check_keys (ld, item, is_reject ? s_reject_keys : s_ref_keys, where);
        static const char *const required[] = {"agency", "event", NULL};
        if (!wy_require (ld, item, required, where))
            continue;
        event_ref_t ref = {0};
        ref.line = item->line;
        ref.col = item->col;
        ref.agency = wy_agency (ld, wy_get (item, "agency"), where);
        char what[96];
        snprintf (what, sizeof what, "event of %s", where);
        ref.event = wy_event_type (ld, wy_get (item, "event"), what);
        const node_t *when = wy_get (item, "when");
        ref.when = s_when (ld, when, where);
        bool ok = ref.agency && ref.event && (!when || ref.when);
        const node_t *effect = wy_get (item, "effect");
        if (effect) {
            if (effect->kind == NODE_SCALAR && strcmp (effect->text, "end") == 0)
                ref.effect = REJECT_END;
            else if (effect->kind == NODE_SCALAR && strcmp (effect->text, "suspend") == 0)
                ref.effect = REJECT_SUSPEND;
            else {
                char found[64];
                wy_problem_at (ld, effect, "effect of %s must be end or suspend, found %s",
                               where, wy_found (effect, found, sizeof found));
                ok = false;
            }
        }
        if (!ok)
            continue;
        for (size_t j = 0; j < n; j++)
            if (strcmp (out[j].agency, ref.agency) == 0
                && strcmp (out[j].event, ref.event) == 0 && !out[j].when && !ref.when) {
                wy_problem_at (ld, item,
                               "event \"%s\" of agency \"%s\" listed twice in %s "
                               "(first at line %d)",
                               ref.event, ref.agency, key, out[j].line);
                ok = false;
                break;
            }
        if (ok)
            out[n++] = ref;
    }
    *refs = out;
    *n_refs = n;
}

//  --------------------------------------------------------------------------
//  Deadlines

/*  Where the parts of a step were written, for the resolution pass.  */
typedef struct {
    const node_t *id;    //  its id value, or NULL
    const node_t *after; //  its after list, or NULL
    const node_t **from; //  per deadline (alternative): its from when that names a
                         //  step, or NULL
} step_src_t;

static const char *const s_deadline_keys[] = {"working_days",
                                              "working_minutes",
                                              "immediate",
                                              "working_days_by",
                                              "working_minutes_by",
                                              "from",
                                              "when",
                                              NULL};
static const char *const s_by_keys[] = {"attr", "values", "default", NULL};

/*  The canonical text of a working_*_by value key: plain booleans as
    "true"/"false", plain integers in decimal, whole plain numbers in
    decimal, anything else as written. Matches s_value_text.  */
static const char *
s_choice_key (loader_t *ld, const node_t *key)
{
    bool flag;
    int64_t integer;
    double number;
    char buf[64];
    if (wy_plain_bool (key, &flag))
        return flag ? "true" : "false";
    if (wy_plain_int (key, &integer)) {
        snprintf (buf, sizeof buf, "%" PRId64, integer);
        return wy_arena_strdup (ld->arena, buf);
    }
    if (wy_plain_number (key, &number)) {
        if (wy_is_whole (number))
            snprintf (buf, sizeof buf, "%" PRId64, (int64_t) number);
        else
            snprintf (buf, sizeof buf, "%.17g", number);
        return wy_arena_strdup (ld->arena, buf);
    }
    return wy_arena_strdup (ld->arena, key->text);
}

/*  Parses working_days_by / working_minutes_by into out.  */
static bool
s_deadline_by (loader_t *ld, const node_t *node, const char *key, const char *step,
               int64_t max, deadline_spec_t *out)
{
    char where[160];
    snprintf (where, sizeof where, "%s of step \"%s\"", key, step);
    if (!wy_is_map (ld, node, where))
        return false;
    wy_check_keys (ld, node, s_by_keys, where);
    static const char *const required[] = {"attr", "values", NULL};
    if (!wy_require (ld, node, required, where))
        return false;
    char what[200];
    snprintf (what, sizeof what, "attr of %s", where);
    const node_t *attr = wy_get (node, "attr");
    const char *name = wy_text (ld, attr, what);
    bool ok = name != NULL;
    if (name && !wy_attr_name_ok (name)) {
        wy_problem_at (ld, attr,
                       "attribute name \"%s\" in %s is not 1 to 64 characters of A-Z, a-z, "
                       "0-9 and _",
                       name, where);
        ok = false;
    }
    out->by_attr = name;
    const node_t *values = wy_get (node, "values");
    snprintf (what, sizeof what, "values of %s", where);
    if (!wy_is_map (ld, values, what))
        return false;
    if (values->n == 0) {
        wy_problem_at (ld, values, "values of %s lists no value", where);
        return false;
    }
    deadline_choice_t *choices =
        (deadline_choice_t *) wy_arena_alloc (ld->arena, values->n * sizeof *choices);
    const node_t **keys =
        (const node_t **) wy_arena_alloc (&ld->scratch, values->n * sizeof (node_t *));
    size_t n = 0;
    for (size_t i = 0; i < values->n; i++) {
        const node_t *k = values->items[2 * i];
        const node_t *v = values->items[2 * i + 1];
        if (k->kind != NODE_SCALAR)
            continue; //  already reported
        char amount_what[240];
        snprintf (amount_what, sizeof amount_what, "amount for \"%s\" in %s", k->text,
                  where);
        int64_t amount;
        if (!wy_int_range (ld, v, amount_what, 0, max, &amount)) {
            ok = false;
            continue;
        }
        choices[n].value = s_choice_key (ld, k);
        choices[n].amount = (int) amount;
        keys[n] = k;
        //  the same key written the same way is already a duplicate key
        for (size_t j = 0; j < n; j++)
            if (strcmp (choices[j].value, choices[n].value) == 0
                && strcmp (keys[j]->text, k->text) != 0) {
                wy_problem_at (ld, k, "value \"%s\" given twice in %s", choices[n].value,
                               where);
                ok = false;
            }
        n++;
    }
    out->choices = choices;
    out->n_choices = n;
    const node_t *def = wy_get (node, "default");
    if (def) {
        snprintf (what, sizeof what, "default of %s", where);
        int64_t amount;
        if (wy_int_range (ld, def, what, 0, max, &amount)) {
            out->has_default = true;
            out->default_amount = (int) amount;
        }
        else
            ok = false;
    }
    return ok;
}

/*  Parses one deadline of step (the deadline, or one alternative of a
    list, as where names it) into out. from: names a step: its node goes
    to *from_node for the resolution pass.  */
static void
s_deadline (loader_t *ld, const node_t *node, const char *step, const char *where,
            deadline_spec_t *out, const node_t **from_node)
{
    out->line = node->line;
    out->col = node->col;
    if (!wy_is_map (ld, node, where))
        return;
    wy_check_keys (ld, node, s_deadline_keys, where);
    static const char *const amounts[] = {"working_days", "working_minutes", "immediate",
                                          "working_days_by", "working_minutes_by"};
    const char *given[5];
    size_t n_given = 0;
    for (size_t i = 0; i < 5; i++)
        if (wy_get (node, amounts[i]))
            given[n_given++] = amounts[i];
    if (n_given == 0) {
        wy_problem_at (ld, node,
                       "%s gives no amount: give working_days, working_minutes, "
                       "working_days_by, working_minutes_by or immediate",
                       where);
        return;
    }
    if (n_given > 1) {
        wy_problem_at (ld, node, "%s gives both %s and %s; give only one", where, given[0],
                       given[1]);
        return;
    }
    const char *kind = given[0];
    const node_t *value = wy_get (node, kind);
    char what[192];
    snprintf (what, sizeof what, "%s of step \"%s\"", kind, step);
    int64_t amount;
    if (strcmp (kind, "working_days") == 0) {
        if (wy_int_range (ld, value, what, 0, WORKING_DAYS_MAX, &amount)) {
            out->unit = DEADLINE_WORKING_DAYS;
            out->amount = (int) amount;
        }
    }
    else if (strcmp (kind, "working_minutes") == 0) {
        if (wy_int_range (ld, value, what, 0, WORKING_MIN_MAX, &amount)) {
            out->unit = DEADLINE_WORKING_MINUTES;
            out->amount = (int) amount;
        }
    }
    else if (strcmp (kind, "immediate") == 0) {
        bool flag;
        if (wy_plain_bool (value, &flag) && flag)
            out->unit = DEADLINE_IMMEDIATE;
        else {
            char found[64];
            wy_problem_at (ld, value,
                           "immediate of step \"%s\" must be true (leave the deadline out "
                           "for none), found %s",
                           step, wy_found (value, found, sizeof found));
        }
    }
    else {
        bool days = strcmp (kind, "working_days_by") == 0;
        if (s_deadline_by (ld, value, kind, step, days ? WORKING_DAYS_MAX : WORKING_MIN_MAX,
                           out))
            out->unit = days ? DEADLINE_WORKING_DAYS : DEADLINE_WORKING_MINUTES;
    }
    const node_t *from = wy_get (node, "from");
    out->from = DEADLINE_FROM_READY;
    if (from) {
        snprintf (what, sizeof what, "from of step \"%s\"", step);
        const char *text = wy_text (ld, from, what);
        if (text && strcmp (text, "ready") == 0)
            out->from = DEADLINE_FROM_READY;
        else if (text && strcmp (text, "start") == 0)
            out->from = DEADLINE_FROM_START;
        else if (text) {
            out->from = DEADLINE_FROM_STEP;
            out->from_step = text;
            *from_node = from;
        }
    }
    out->when = s_when (ld, wy_get (node, "when"), where);
}

/*  Parses a step's deadline into out->deadlines: one map, or a list of
    alternatives tried in order, the first whose when holds applying. An
    alternative after one without when could never apply: a problem, as
    is an empty list. The from nodes go to src->from, one per
    alternative.  */
static void
s_deadlines (loader_t *ld, const node_t *node, const char *step, step_def_t *out,
             step_src_t *src)
{
    char where[160];
    if (node->kind != NODE_LIST) {
        deadline_spec_t *d = (deadline_spec_t *) wy_arena_alloc (ld->arena, sizeof *d);
        src->from = (const node_t **) wy_arena_alloc (&ld->scratch, sizeof (node_t *));
        snprintf (where, sizeof where, "deadline of step \"%s\"", step);
        s_deadline (ld, node, step, where, d, &src->from[0]);
        out->deadlines = d;
        out->n_deadlines = 1;
        return;
    }
    out->deadline_list = true;
    if (node->n == 0) {
        wy_problem_at (ld, node,
                       "deadline of step \"%s\" lists no alternative (leave the deadline "
                       "out for none)",
                       step);
        return;
    }
    deadline_spec_t *d =
        (deadline_spec_t *) wy_arena_alloc (ld->arena, node->n * sizeof (deadline_spec_t));
    src->from =
        (const node_t **) wy_arena_alloc (&ld->scratch, node->n * sizeof (node_t *));
    size_t always = SIZE_MAX; //  the first alternative without when
    for (size_t i = 0; i < node->n; i++) {
        const node_t *alt = node->items[i];
        snprintf (where, sizeof where, "alternative %zu of the deadline of step \"%s\"",
                  i + 1, step);
        if (always != SIZE_MAX)
            wy_problem_at (ld, alt,
                           "%s can never apply: alternative %zu (line %d) has no when, so "
                           "it always applies; put the alternatives with a when first",
                           where, always + 1, d[always].line);
        s_deadline (ld, alt, step, where, &d[i], &src->from[i]);
        if (alt->kind == NODE_MAP && !wy_get (alt, "when") && always == SIZE_MAX)
            always = i;
    }
    out->deadlines = d;
    out->n_deadlines = node->n;
}

//  --------------------------------------------------------------------------
//  Steps

static const char *const s_step_keys[] = {"id",       "title", "agency", "completes_on",
                                          "after",    "when",  "task",   "payload",
                                          "deadline", NULL};

static void
s_step (loader_t *ld, const node_t *node, size_t index, step_def_t *out, step_src_t *src)
{
    out->line = node->line;
    out->col = node->col;
    char where[96];
    snprintf (where, sizeof where, "step %zu", index + 1);
    if (!wy_is_map (ld, node, where))
        return;
    const node_t *id = wy_get (node, "id");
    if (id && id->kind == NODE_SCALAR && !wy_is_null (id)) {
        char shown[72];
        utf8_safe_copy (shown, sizeof shown, id->text);
        snprintf (where, sizeof where, "step \"%s\"", shown);
    }
    wy_check_keys (ld, node, s_step_keys, where);
    static const char *const required[] = {"id", "agency", "completes_on", NULL};
    wy_require (ld, node, required, where);
    if (id) {
        char what[120];
        snprintf (what, sizeof what, "id of %s", where);
        out->id = wy_text (ld, id, what);
        if (out->id && !wy_name_ok (out->id)) {
            wy_problem_at (ld, id,
                           "step id \"%s\" is not a name: a lower-case letter, then a-z, "
                           "0-9 or _, at most %d characters",
                           out->id, NAME_MAX_LEN);
            out->id = NULL;
        }
        src->id = out->id ? id : NULL;
    }
    if (!out->id) {
        //  keep going under a name that cannot clash with a real id
        char fallback[32];
        snprintf (fallback, sizeof fallback, "#%zu", index + 1);
        out->id = wy_arena_strdup (ld->arena, fallback);
    }
    const node_t *title = wy_get (node, "title");
    if (title) {
        char what[120];
        snprintf (what, sizeof what, "title of %s", where);
        out->title = wy_text (ld, title, what);
    }
    const node_t *agency = wy_get (node, "agency");
    if (agency)
        out->agency = wy_agency (ld, agency, where);

    const node_t *completes = wy_get (node, "completes_on");
    char what[120];
    snprintf (what, sizeof what, "completes_on of %s", where);
    if (completes && wy_is_list (ld, completes, what)) {
        if (completes->n == 0)
            wy_problem_at (ld, completes, "completes_on of %s lists no event", where);
        const char **events = (const char **) wy_arena_alloc (
            ld->arena, (completes->n + 1) * sizeof (char *));
        size_t n = 0;
        for (size_t i = 0; i < completes->n; i++) {
            const node_t *item = completes->items[i];
            const char *type = wy_event_type (ld, item, what);
            if (!type)
                continue;
            bool twice = false;
            for (size_t j = 0; j < n && !twice; j++)
                twice = strcmp (events[j], type) == 0;
            if (twice) {
                wy_problem_at (ld, item, "event \"%s\" listed twice in completes_on of %s",
                               type, where);
                continue;
            }
            events[n++] = type;
        }
        out->completes_on = events;
        out->n_completes_on = n;
    }

    const node_t *after = wy_get (node, "after");
    snprintf (what, sizeof what, "after of %s", where);
    if (after && wy_is_list (ld, after, what)) {
        const char **names =
            (const char **) wy_arena_alloc (ld->arena, (after->n + 1) * sizeof (char *));
        bool all_text = true;
        for (size_t i = 0; i < after->n; i++) {
            names[i] = wy_text (ld, after->items[i], what);
            all_text = all_text && names[i];
        }
        if (all_text) {
            out->after = names;
            out->n_after = after->n;
            src->after = after;
        }
    }

    const node_t *when = wy_get (node, "when");
    out->when = s_when (ld, when, where);
    const node_t *task = wy_get (node, "task");
    if (task) {
        snprintf (what, sizeof what, "task of %s", where);
        out->task = wy_event_type (ld, task, what);
    }
    //  what of the case the task hands the agency: only the attributes named
    const node_t *payload = wy_get (node, "payload");
    snprintf (what, sizeof what, "payload of %s", where);
    if (payload && !task)
        wy_problem_at (ld, payload, "%s: a payload goes with a task, and %s has none", what,
                       where);
    if (payload && wy_is_list (ld, payload, what)) {
        const char **names =
            (const char **) wy_arena_alloc (ld->arena, (payload->n + 1) * sizeof (char *));
        size_t n = 0;
        for (size_t i = 0; i < payload->n; i++) {
            const char *name = wy_text (ld, payload->items[i], what);
            if (!name)
                continue;
            if (!wy_attr_name_ok (name)) {
                wy_problem_at (ld, payload->items[i],
                               "%s: attribute name \"%s\" is not 1 to 64 characters of "
                               "A-Z, a-z, 0-9 and _",
                               what, name);
                continue;
            }
            bool twice = false;
            for (size_t j = 0; j < n && !twice; j++)
                twice = strcmp (names[j], name) == 0;
            if (twice) {
                wy_problem_at (ld, payload->items[i], "%s: \"%s\" listed twice", what,
                               name);
                continue;
            }
            names[n++] = name;
        }
        out->payload = names;
        out->n_payload = n;
    }
    if (task) {
        /* the payload's names as a JSON array, made once here rather than
           at every task the step issues */
        strbuf_t list;
        strbuf_init (&list);
        strbuf_putc (&list, '[');
        for (size_t i = 0; i < out->n_payload; i++) {
            if (i)
                strbuf_putc (&list, ',');
            strbuf_json_string (&list, out->payload[i]);
        }
        strbuf_putc (&list, ']');
        out->payload_json = wy_arena_strdup (ld->arena, list.data);
        strbuf_free (&list);
    }
    const node_t *deadline = wy_get (node, "deadline");
    if (deadline)
        s_deadlines (ld, deadline, out->id, out, src);
}

//  --------------------------------------------------------------------------
//  Resolution of step ids and the graph of prerequisites

/*  Index of the step called id among the first n, or SIZE_MAX.  */
static size_t
s_step_index (const step_def_t *steps, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (steps[i].id && strcmp (steps[i].id, id) == 0)
            return i;
    return SIZE_MAX;
}

/*  Appends to buf '; did you mean "x"?' against the step ids (and extra,
    a NULL-terminated list, may be NULL).  */
static const char *
s_suggest_step (const char *word, const step_def_t *steps, size_t n,
                const char *const *extra, char *buf, size_t size)
{
    size_t n_extra = extra ? wy_count (extra) : 0;
    const char **names = (const char **) wy_xmalloc ((n + n_extra + 1) * sizeof (char *));
    for (size_t i = 0; i < n; i++)
        names[i] = steps[i].id;
    for (size_t i = 0; i < n_extra; i++)
        names[n + i] = extra[i];
    wy_suggest (word, names, n + n_extra, buf, size);
    free (names);
    return buf;
}

/*  State of the cycle search over after edges.  */
typedef struct {
    loader_t *ld;            //  for reporting
    const step_def_t *steps; //  the workflow's steps
    const step_src_t *src;   //  where they were written
    size_t n;                //  number of steps
    int *color;              //  0 unvisited, 1 on the path, 2 done
    size_t *path;            //  the steps on the current path
    size_t depth;            //  entries in path
    bool found;              //  any cycle found
} cycle_search_t;

/*  Depth-first search from step i; reports each cycle once, at the after
    entry that closes it, naming it as 'a -> b -> a' (a waits for b).  */
static void
s_cycle_visit (cycle_search_t *cs, size_t i)
{
    cs->color[i] = 1;
    cs->path[cs->depth++] = i;
    const step_def_t *step = &cs->steps[i];
    for (size_t k = 0; k < step->n_after; k++) {
        size_t j = step->after_index[k];
        if (j == SIZE_MAX)
            continue;
        if (cs->color[j] == 1) {
            strbuf_t sb;
            strbuf_init (&sb);
            size_t from = cs->depth;
            while (from > 0 && cs->path[from - 1] != j)
                from--;
            for (size_t p = from - 1; p < cs->depth; p++)
                strbuf_printf (&sb, "%s -> ", cs->steps[cs->path[p]].id);
            strbuf_puts (&sb, cs->steps[j].id);
            const node_t *entry = cs->src[i].after->items[k];
            wy_problem_at (cs->ld, entry,
                           "cycle in after: %s (each step waits for the next)", sb.data);
            strbuf_free (&sb);
            cs->found = true;
        }
        else if (cs->color[j] == 0)
            s_cycle_visit (cs, j);
    }
    cs->depth--;
    cs->color[i] = 2;
}

/*  True when step from waits, directly or not, for step target.  */
static bool
s_waits_for (const step_def_t *steps, size_t n, size_t from, size_t target, bool *seen)
{
    if (seen[from])
        return false;
    seen[from] = true;
    for (size_t k = 0; k < steps[from].n_after; k++) {
        size_t j = steps[from].after_index[k];
        if (j == SIZE_MAX)
            continue;
        if (j == target || s_waits_for (steps, n, j, target, seen))
            return true;
    }
    return false;
}

/*  Resolves the from: step of deadline d of step i (written at node
    from, NULL when from is not a step) to its index; a step that does not
    exist, the step itself and a step that waits for step i are problems
    (the last only when the graph has no cycle, found being false).  */
static void
s_resolve_from (loader_t *ld, const step_def_t *steps, size_t n, size_t i,
                deadline_spec_t *d, const node_t *from, bool found, char *hint,
                size_t hint_size)
{
    static const char *const from_words[] = {"start", "ready", NULL};
    if (d->from != DEADLINE_FROM_STEP || !from)
        return;
    size_t j = s_step_index (steps, n, d->from_step);
    if (j == SIZE_MAX) {
        wy_problem_at (
            ld, from,
            "deadline of step \"%s\" counts from \"%s\", which is not start, "
            "ready or a step id%s",
            steps[i].id, d->from_step,
            s_suggest_step (d->from_step, steps, n, from_words, hint, hint_size));
        return;
    }
    if (j == i) {
        wy_problem_at (ld, from, "deadline of step \"%s\" counts from itself", steps[i].id);
        return;
    }
    bool *seen = (bool *) calloc (n + 1, sizeof (bool));
    if (!seen)
        abort ();
    if (!found && s_waits_for (steps, n, j, i, seen))
        wy_problem_at (ld, from,
                       "deadline of step \"%s\" counts from step \"%s\", which waits for "
                       "it",
                       steps[i].id, d->from_step);
    free (seen);
    d->from_step_index = j;
}

/*  Resolves after, from and completes_when, and checks duplicates and
    cycles.  */
static void
s_resolve (loader_t *ld, workflow_def_t *wf, step_def_t *steps, step_src_t *src,
           const node_t *completes_when)
{
    size_t n = wf->n_steps;
    char hint[96];
    for (size_t i = 0; i < n; i++)
        if (src[i].id)
            for (size_t j = 0; j < i; j++)
                if (src[j].id && strcmp (steps[i].id, steps[j].id) == 0) {
                    wy_problem_at (ld, src[i].id,
                                   "duplicate step id \"%s\" (first defined at line %d)",
                                   steps[i].id, src[j].id->line);
                    break;
                }
    for (size_t i = 0; i < n; i++) {
        step_def_t *step = &steps[i];
        size_t *index =
            (size_t *) wy_arena_alloc (ld->arena, (step->n_after + 1) * sizeof (size_t));
        for (size_t k = 0; k < step->n_after; k++) {
            const node_t *entry = src[i].after->items[k];
            index[k] = s_step_index (steps, n, step->after[k]);
            if (index[k] == SIZE_MAX) {
                wy_problem_at (
                    ld, entry, "unknown step \"%s\" in after of step \"%s\"%s",
                    step->after[k], step->id,
                    s_suggest_step (step->after[k], steps, n, NULL, hint, sizeof hint));
                continue;
            }
            for (size_t m = 0; m < k; m++)
                if (index[m] == index[k]) {
                    wy_problem_at (ld, entry,
                                   "step \"%s\" listed twice in after of step \"%s\"",
                                   step->after[k], step->id);
                    index[k] = SIZE_MAX;
                    break;
                }
        }
        step->after_index = index;
    }
    int *color = (int *) calloc (n + 1, sizeof (int));
    size_t *path = (size_t *) wy_xmalloc ((n + 1) * sizeof (size_t));
    if (!color)
        abort ();
    cycle_search_t cs = {ld, steps, src, n, color, path, 0, false};
    for (size_t i = 0; i < n; i++)
        if (color[i] == 0)
            s_cycle_visit (&cs, i);
    free (path);
    free (color);

    for (size_t i = 0; i < n; i++)
        for (size_t a = 0; a < steps[i].n_deadlines; a++)
            s_resolve_from (ld, steps, n, i, (deadline_spec_t *) &steps[i].deadlines[a],
                            src[i].from[a], cs.found, hint, sizeof hint);

    wf->completes_all = true;
    if (completes_when) {
        char found[64];
        if (completes_when->kind == NODE_SCALAR
            && strcmp (completes_when->text, "all") == 0)
            wf->completes_all = true;
        else if (completes_when->kind != NODE_LIST)
            wy_problem_at (ld, completes_when,
                           "completes_when must be all or a list of step ids, found %s",
                           wy_found (completes_when, found, sizeof found));
        else if (completes_when->n == 0)
            wy_problem_at (ld, completes_when,
                           "completes_when lists no step; write all or name the steps");
        else {
            size_t *index =
                (size_t *) wy_arena_alloc (ld->arena, completes_when->n * sizeof (size_t));
            size_t m = 0;
            for (size_t k = 0; k < completes_when->n; k++) {
                const node_t *entry = completes_when->items[k];
                const char *id = wy_text (ld, entry, "entry of completes_when");
                if (!id)
                    continue;
                size_t j = s_step_index (steps, n, id);
                if (j == SIZE_MAX) {
                    wy_problem_at (ld, entry, "unknown step \"%s\" in completes_when%s", id,
                                   s_suggest_step (id, steps, n, NULL, hint, sizeof hint));
                    continue;
                }
                bool twice = false;
                for (size_t p = 0; p < m && !twice; p++)
                    twice = index[p] == j;
                if (twice) {
                    wy_problem_at (ld, entry, "step \"%s\" listed twice in completes_when",
                                   id);
                    continue;
                }
                index[m++] = j;
            }
            wf->completes_all = false;
            wf->completes_when = index;
            wf->n_completes_when = m;
        }
    }
}

//  --------------------------------------------------------------------------
//  A workflow

static const char *const s_workflow_keys[] = {
    "workflow",   "version",       "title",          "seed_items",    "key",
    "starts_on",  "unmatched_ttl", "warn_at",        "steps",         "rejects_on",
    "reopens_on", "cancels_on",    "completes_when", "between_cases", NULL};

/*  Parses a duration "<n>s|m|h|d" into ms; false after a problem.  */
static bool
s_duration (loader_t *ld, const node_t *node, const char *what, int64_t *ms)
{
    const char *t = node->kind == NODE_SCALAR ? node->text : "";
    size_t len = strlen (t);
    size_t digits = 0;
    while (digits < len && t[digits] >= '0' && t[digits] <= '9')
        digits++;
    int64_t unit = 0;
    if (node->kind == NODE_SCALAR && digits > 0 && digits <= 12 && len == digits + 1) {
        switch (t[digits]) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: break;
        }
    }
    if (!unit) {
        char found[64];
        wy_problem_at (
            ld, node,
            "%s: bad duration %s; expected a whole number followed by s, m, h or "
            "d, e.g. \"7d\"",
            what, wy_found (node, found, sizeof found));
        return false;
    }
    int64_t seconds = strtoll (t, NULL, 10) * unit;
    if (seconds <= 0 || seconds > TTL_MAX_SECONDS) {
        wy_problem_at (ld, node, "%s must be more than 0s and at most 3650d, found \"%s\"",
                       what, t);
        return false;
    }
    *ms = seconds * 1000;
    return true;
}

/*  True when two refs name the same pair and neither has a condition.  */
static bool
s_same_pair (const event_ref_t *a, const event_ref_t *b)
{
    return !a->when && !b->when && strcmp (a->agency, b->agency) == 0
           && strcmp (a->event, b->event) == 0;
}

static workflow_def_t *
s_workflow (loader_t *ld, const node_t *root, const node_t **name_node)
{
    if (root->kind != NODE_MAP) {
        char found[64];
        wy_problem_at (ld, root, "a workflow definition must be a mapping, found %s",
                       wy_found (root, found, sizeof found));
        return NULL;
    }
    workflow_def_t *wf = (workflow_def_t *) wy_arena_alloc (ld->arena, sizeof *wf);
    char where[96] = "workflow";
    const node_t *name = wy_get (root, "workflow");
    *name_node = name;
    if (name) {
        wf->name = wy_text (ld, name, "workflow");
        if (wf->name && !wy_name_ok (wf->name)) {
            wy_problem_at (
                ld, name,
                "workflow name \"%s\" is not a name: a lower-case letter, then a-z, "
                "0-9 or _, at most %d characters",
                wf->name, NAME_MAX_LEN);
            wf->name = NULL;
        }
        if (wf->name)
            snprintf (where, sizeof where, "workflow \"%s\"", wf->name);
    }
    wy_check_keys (ld, root, s_workflow_keys, where);
    static const char *const required[] = {"workflow",  "version", "key",
                                           "starts_on", "steps",   NULL};
    wy_require (ld, root, required, where);

    const node_t *node = wy_get (root, "version");
    int64_t v;
    if (node && wy_int_range (ld, node, "version", 1, INT_MAX, &v))
        wf->version = (int) v;
    node = wy_get (root, "title");
    if (node)
        wf->title = wy_text (ld, node, "title");
    node = wy_get (root, "seed_items");
    if (node && wy_is_list (ld, node, "seed_items")) {
        int *items = (int *) wy_arena_alloc (ld->arena, (node->n + 1) * sizeof (int));
        size_t n = 0;
        for (size_t i = 0; i < node->n; i++)
            if (wy_int_range (ld, node->items[i], "seed item", 1, INT_MAX, &v))
                items[n++] = (int) v;
        wf->seed_items = items;
        wf->n_seed_items = n;
    }
    node = wy_get (root, "key");
    if (node) {
        const char *key = wy_text (ld, node, "key");
        if (key && !key_kind_parse (key, &wf->key)) {
            static const char *const kinds[] = {"credit_code", "unit_number",
                                                "project_code", "application_no",
                                                "refund_no"};
            char hint[96];
            wy_problem_at (ld, node,
                           "unknown key kind \"%s\"%s (expected credit_code, unit_number, "
                           "project_code, application_no or refund_no)",
                           key, wy_suggest (key, kinds, 5, hint, sizeof hint));
        }
    }
    wf->unmatched_ttl_ms = INT64_C (7) * 86400 * 1000;
    node = wy_get (root, "unmatched_ttl");
    if (node)
        s_duration (ld, node, "unmatched_ttl", &wf->unmatched_ttl_ms);
    node = wy_get (root, "between_cases");
    if (node) {
        char found[64];
        if (node->kind == NODE_SCALAR && strcmp (node->text, "record") == 0)
            wf->record_between_cases = true;
        else if (node->kind != NODE_SCALAR || strcmp (node->text, "park") != 0)
            wy_problem_at (ld, node, "between_cases must be park or record, found %s",
                           wy_found (node, found, sizeof found));
        const node_t *ttl = wy_get (root, "unmatched_ttl");
        if (wf->record_between_cases && ttl)
            wy_problem_at (ld, ttl,
                           "unmatched_ttl has no use with between_cases: record (no event "
                           "waits for a start); leave it out");
    }
    wf->warn_at = 0.75;
    node = wy_get (root, "warn_at");
    if (node) {
        double share;
        char found[64];
        if (!wy_plain_number (node, &share))
            wy_problem_at (ld, node, "warn_at must be a number between 0 and 1, found %s",
                           wy_found (node, found, sizeof found));
        else if (!(share > 0 && share < 1))
            wy_problem_at (ld, node,
                           "warn_at must be between 0 and 1 (both excluded), found %s",
                           node->text);
        else
            wf->warn_at = share;
    }

    s_event_refs (ld, root, "starts_on", false, &wf->starts_on, &wf->n_starts_on);
    node = wy_get (root, "starts_on");
    if (node && node->kind == NODE_LIST && node->n == 0)
        wy_problem_at (ld, node, "starts_on lists no event; a workflow needs one to start");
    s_event_refs (ld, root, "rejects_on", true, &wf->rejects_on, &wf->n_rejects_on);
    s_event_refs (ld, root, "reopens_on", false, &wf->reopens_on, &wf->n_reopens_on);
    s_event_refs (ld, root, "cancels_on", false, &wf->cancels_on, &wf->n_cancels_on);

    node = wy_get (root, "reopens_on");
    if (wf->n_reopens_on) {
        bool suspends = false;
        for (size_t i = 0; i < wf->n_rejects_on; i++)
            suspends = suspends || wf->rejects_on[i].effect == REJECT_SUSPEND;
        if (!suspends)
            wy_problem_at (
                ld, node,
                "reopens_on has nothing to reopen: no rejects_on entry has effect "
                "suspend");
    }
    for (size_t i = 0; i < wf->n_starts_on; i++) {
        for (size_t j = 0; j < wf->n_cancels_on; j++)
            if (s_same_pair (&wf->starts_on[i], &wf->cancels_on[j]))
                wy_problem (
                    ld, wf->cancels_on[j].line, wf->cancels_on[j].col,
                    "event \"%s\" of agency \"%s\" both starts (line %d) and cancels "
                    "the workflow",
                    wf->starts_on[i].event, wf->starts_on[i].agency, wf->starts_on[i].line);
        for (size_t j = 0; j < wf->n_rejects_on; j++)
            if (s_same_pair (&wf->starts_on[i], &wf->rejects_on[j]))
                wy_problem (
                    ld, wf->rejects_on[j].line, wf->rejects_on[j].col,
                    "event \"%s\" of agency \"%s\" both starts (line %d) and rejects "
                    "the workflow",
                    wf->starts_on[i].event, wf->starts_on[i].agency, wf->starts_on[i].line);
    }

    node = wy_get (root, "steps");
    if (node && wy_is_list (ld, node, "steps")) {
        if (node->n == 0)
            wy_problem_at (ld, node, "steps lists no step; a workflow needs at least one");
        else if (node->n > STEPS_MAX)
            wy_problem_at (ld, node, "steps lists %zu steps, more than %d", node->n,
                           STEPS_MAX);
        else {
            step_def_t *steps =
                (step_def_t *) wy_arena_alloc (ld->arena, node->n * sizeof (step_def_t));
            step_src_t *src = (step_src_t *) calloc (node->n, sizeof (step_src_t));
            if (!src)
                abort ();
            for (size_t i = 0; i < node->n; i++)
                s_step (ld, node->items[i], i, &steps[i], &src[i]);
            wf->steps = steps;
            wf->n_steps = node->n;
            s_resolve (ld, wf, steps, src, wy_get (root, "completes_when"));
            free (src);
        }
    }
    else
        wf->completes_all = true;
    return wf;
}

//  --------------------------------------------------------------------------
//  The set

/*  The (agency, event) pair of one index entry.  */
typedef struct {
    const char *agency; //  agency code
    const char *event;  //  event type
    size_t seq;         //  insertion order, keeps the sort stable
} index_key_t;

struct _workflow_set_t {
    arena_t arena;              //  every definition, string and array of the set
    workflow_def_t **workflows; //  in load order (file names sorted)
    size_t n_workflows;         //  entries in workflows
    workflow_def_t **by_name;   //  the same, sorted by name
    index_key_t *keys;          //  index keys sorted by (agency, event, seq)
    workflow_match_t *matches;  //  matches[i] is what keys[i] does
    size_t n_index;             //  entries in keys and matches
};

uint64_t
workflow_digest (const void *bytes, size_t len)
{
    const unsigned char *p = (const unsigned char *) bytes;
    uint64_t hash = UINT64_C (14695981039346656037);
    for (size_t i = 0; i < len; i++) {
        hash ^= p[i];
        hash *= UINT64_C (1099511628211);
    }
    return hash;
}

/*  Reads a whole file into a malloc'd buffer; NULL after a problem.  */
static char *
s_read_file (loader_t *ld, const char *path, size_t *len)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        wy_problem (ld, 0, 0, "could not open workflow definition: %s", strerror (errno));
        return NULL;
    }
    char *bytes = (char *) wy_xmalloc (FILE_MAX_BYTES + 1);
    size_t got = fread (bytes, 1, FILE_MAX_BYTES + 1, file);
    bool failed = ferror (file);
    int saved = errno;
    fclose (file);
    if (failed) {
        wy_problem (ld, 0, 0, "could not read workflow definition: %s", strerror (saved));
        free (bytes);
        return NULL;
    }
    if (got > FILE_MAX_BYTES) {
        wy_problem (ld, 0, 0, "workflow definition is larger than %d bytes",
                    FILE_MAX_BYTES);
        free (bytes);
        return NULL;
    }
    bytes[got] = '\0';
    *len = got;
    return bytes;
}

/*  Loads one file into a workflow (NULL when it could not be read at
    all). Problems are recorded; the workflow may be partial.  */
static workflow_def_t *
s_load_file (loader_t *ld, const char *path, const char *in_memory, size_t in_memory_len,
             int *name_line, int *name_col)
{
    ld->path = path;
    ld->yaml_failed = false;
    size_t len = in_memory_len;
    char *bytes = NULL;
    if (in_memory) {
        bytes = (char *) wy_xmalloc (len + 1);
        memcpy (bytes, in_memory, len);
        bytes[len] = '\0';
    }
    else
        bytes = s_read_file (ld, path, &len);
    if (!bytes)
        return NULL;
    workflow_def_t *wf = NULL;
    node_t *root = wy_parse_yaml (ld, bytes, len);
    const node_t *name = NULL;
    if (root && !ld->yaml_failed)
        wf = s_workflow (ld, root, &name);
    *name_line = name ? name->line : 1;
    *name_col = name ? name->col : 1;
    if (wf) {
        wf->path = wy_arena_strdup (ld->arena, path);
        char *source = (char *) wy_arena_alloc (ld->arena, len + 1);
        memcpy (source, bytes, len);
        source[len] = '\0';
        wf->source = source;
        wf->source_len = len;
        wf->digest = workflow_digest (bytes, len);
        snprintf (wf->digest_hex, sizeof wf->digest_hex, "%016" PRIx64, wf->digest);
    }
    free (bytes);
    wy_arena_free (&ld->scratch);
    return wf;
}

static int
s_by_name_compare (const void *a, const void *b)
{
    const workflow_def_t *wa = *(const workflow_def_t *const *) a;
    const workflow_def_t *wb = *(const workflow_def_t *const *) b;
    return strcmp (wa->name, wb->name);
}

static int
s_key_compare (const index_key_t *a, const index_key_t *b)
{
    int c = strcmp (a->agency, b->agency);
    if (c == 0)
        c = strcmp (a->event, b->event);
    if (c == 0)
        c = a->seq < b->seq ? -1 : a->seq > b->seq;
    return c;
}

/*  An index entry being built: key and match together, for sorting.  */
typedef struct {
    index_key_t key;        //  (agency, event, seq)
    workflow_match_t match; //  what it does
} index_entry_t;

static int
s_entry_compare (const void *a, const void *b)
{
    return s_key_compare (&((const index_entry_t *) a)->key,
                          &((const index_entry_t *) b)->key);
}

/*  Appends one entry to a growing array.  */
static void
s_index_add (index_entry_t **entries, size_t *n, size_t *max, const char *agency,
             const char *event, workflow_match_t match)
{
    if (*n == *max) {
        *max = *max ? *max * 2 : 64;
        *entries = (index_entry_t *) wy_xrealloc (*entries, *max * sizeof (index_entry_t));
    }
    (*entries)[*n].key.agency = agency;
    (*entries)[*n].key.event = event;
    (*entries)[*n].key.seq = *n;
    (*entries)[*n].match = match;
    (*n)++;
}

/*  Builds the name and event indexes of a valid set.  */
static void
s_build_index (workflow_set_t *self)
{
    self->by_name = (workflow_def_t **) wy_xmalloc ((self->n_workflows + 1)
                                                    * sizeof (workflow_def_t *));
    if (self->n_workflows)
        memcpy (self->by_name, self->workflows,
                self->n_workflows * sizeof (workflow_def_t *));
    qsort (self->by_name, self->n_workflows, sizeof (workflow_def_t *), s_by_name_compare);

    index_entry_t *entries = NULL;
    size_t n = 0, max = 0;
    for (size_t w = 0; w < self->n_workflows; w++) {
        const workflow_def_t *wf = self->workflows[w];
        workflow_match_t m = {wf, WORKFLOW_ROLE_START, NULL, 0, NULL};
        for (size_t i = 0; i < wf->n_starts_on; i++) {
            m.ref = &wf->starts_on[i];
            s_index_add (&entries, &n, &max, m.ref->agency, m.ref->event, m);
        }
        m.ref = NULL;
        m.role = WORKFLOW_ROLE_STEP;
        for (size_t s = 0; s < wf->n_steps; s++) {
            m.step = &wf->steps[s];
            m.step_index = s;
            for (size_t e = 0; e < m.step->n_completes_on; e++)
                s_index_add (&entries, &n, &max, m.step->agency, m.step->completes_on[e],
                             m);
        }
        m.step = NULL;
        m.step_index = 0;
        const struct {
            workflow_role_t role;
            const event_ref_t *refs;
            size_t n;
        } lists[] = {{WORKFLOW_ROLE_REJECT, wf->rejects_on, wf->n_rejects_on},
                     {WORKFLOW_ROLE_REOPEN, wf->reopens_on, wf->n_reopens_on},
                     {WORKFLOW_ROLE_CANCEL, wf->cancels_on, wf->n_cancels_on}};
        for (size_t l = 0; l < 3; l++) {
            m.role = lists[l].role;
            for (size_t i = 0; i < lists[l].n; i++) {
                m.ref = &lists[l].refs[i];
                s_index_add (&entries, &n, &max, m.ref->agency, m.ref->event, m);
            }
        }
    }
    qsort (entries, n, sizeof (index_entry_t), s_entry_compare);
    self->keys = (index_key_t *) wy_xmalloc ((n + 1) * sizeof (index_key_t));
    self->matches = (workflow_match_t *) wy_xmalloc ((n + 1) * sizeof (workflow_match_t));
    for (size_t i = 0; i < n; i++) {
        self->keys[i] = entries[i].key;
        self->matches[i] = entries[i].match;
    }
    self->n_index = n;
    free (entries);
}

/*  Loads the files of paths (n of them) into a set; NULL with the
    problems in err when anything is wrong.  */
static workflow_set_t *
s_load_paths (const char *const *paths, size_t n, const char *in_memory,
              size_t in_memory_len, const char *const *known_agencies, size_t n_agencies,
              char *err, size_t errlen)
{
    workflow_set_t *self = (workflow_set_t *) calloc (1, sizeof (workflow_set_t));
    if (!self)
        abort ();
    loader_t ld = {0};
    ld.arena = &self->arena;
    ld.agencies = known_agencies;
    ld.n_agencies = known_agencies ? n_agencies : 0;
    self->workflows = (workflow_def_t **) wy_xmalloc ((n + 1) * sizeof (workflow_def_t *));
    for (size_t i = 0; i < n; i++) {
        ld.file = i;
        int line, col;
        workflow_def_t *wf =
            s_load_file (&ld, paths[i], in_memory, in_memory_len, &line, &col);
        if (!wf)
            continue;
        for (size_t j = 0; wf->name && j < self->n_workflows; j++)
            if (self->workflows[j]->name
                && strcmp (self->workflows[j]->name, wf->name) == 0) {
                wy_problem (&ld, line, col, "workflow \"%s\" is also defined in %s",
                            wf->name, self->workflows[j]->path);
                break;
            }
        self->workflows[self->n_workflows++] = wf;
    }
    if (ld.n_problems) {
        wy_problems_write (&ld, err, errlen);
        wy_problems_free (&ld);
        workflow_set_destroy (&self);
        return NULL;
    }
    wy_problems_free (&ld);
    if (err && errlen)
        err[0] = '\0';
    s_build_index (self);
    return self;
}

static int
s_name_compare (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

workflow_set_t *
workflow_set_load_dir (const char *dir, const char *const *known_agencies,
                       size_t n_agencies, char *err, size_t errlen)
{
    assert (dir);
    DIR *d = opendir (dir);
    if (!d) {
        if (err && errlen)
            snprintf (err, errlen, "could not open workflow directory \"%s\": %s", dir,
                      strerror (errno));
        return NULL;
    }
    char **names = NULL;
    size_t n = 0, max = 0;
    struct dirent *entry;
    while ((entry = readdir (d)) != NULL) {
        const char *name = entry->d_name;
        size_t len = strlen (name);
        if (name[0] == '.' || len <= 5 || strcmp (name + len - 5, ".yaml") != 0)
            continue;
        if (n == max) {
            max = max ? max * 2 : 32;
            names = (char **) wy_xrealloc (names, max * sizeof (char *));
        }
        size_t dlen = strlen (dir);
        bool slash = dlen > 0 && dir[dlen - 1] == '/';
        size_t size = dlen + 1 + len + 1;
        names[n] = (char *) wy_xmalloc (size);
        snprintf (names[n], size, "%s%s%s", dir, slash ? "" : "/", name);
        n++;
    }
    closedir (d);
    workflow_set_t *set = NULL;
    if (n == 0) {
        if (err && errlen)
            snprintf (err, errlen, "%s: no workflow definitions (*.yaml) in directory",
                      dir);
    }
    else {
        qsort (names, n, sizeof (char *), s_name_compare);
        set = s_load_paths ((const char *const *) names, n, NULL, 0, known_agencies,
                            n_agencies, err, errlen);
    }
    for (size_t i = 0; i < n; i++)
        free (names[i]);
    free (names);
    return set;
}

workflow_set_t *
workflow_set_load_file (const char *path, const char *const *known_agencies,
                        size_t n_agencies, char *err, size_t errlen)
{
    assert (path);
    return s_load_paths (&path, 1, NULL, 0, known_agencies, n_agencies, err, errlen);
}

workflow_set_t *
workflow_set_load_bytes (const char *label, const char *bytes, size_t len,
                         const char *const *known_agencies, size_t n_agencies, char *err,
                         size_t errlen)
{
    assert (label && bytes);
    return s_load_paths (&label, 1, bytes, len, known_agencies, n_agencies, err, errlen);
}

void
workflow_set_destroy (workflow_set_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    workflow_set_t *self = *self_p;
    wy_arena_free (&self->arena);
    free (self->workflows);
    free (self->by_name);
    free (self->keys);
    free (self->matches);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Lookups

size_t
workflow_set_count (const workflow_set_t *self)
{
    assert (self);
    return self->n_workflows;
}

const workflow_def_t *
workflow_set_get (const workflow_set_t *self, size_t i)
{
    assert (self);
    return i < self->n_workflows ? self->workflows[i] : NULL;
}

const workflow_def_t *
workflow_set_find (const workflow_set_t *self, const char *name)
{
    assert (self);
    if (!name)
        return NULL;
    size_t lo = 0, hi = self->n_workflows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp (self->by_name[mid]->name, name);
        if (c == 0)
            return self->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const workflow_match_t *
workflow_set_relevant (const workflow_set_t *self, const char *agency,
                       const char *event_type, size_t *count)
{
    assert (self);
    assert (count);
    *count = 0;
    if (!agency || !event_type)
        return NULL;
    index_key_t probe = {agency, event_type, 0};
    size_t lo = 0, hi = self->n_index;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s_key_compare (&self->keys[mid], &probe) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < self->n_index && strcmp (self->keys[end].agency, agency) == 0
           && strcmp (self->keys[end].event, event_type) == 0)
        end++;
    *count = end - lo;
    return end > lo ? &self->matches[lo] : NULL;
}

size_t
workflow_set_by_start_event (const workflow_set_t *self, const char *agency,
                             const char *event_type, const workflow_def_t **out, size_t max)
{
    size_t count;
    const workflow_match_t *m = workflow_set_relevant (self, agency, event_type, &count);
    size_t found = 0;
    const workflow_def_t *last = NULL;
    for (size_t i = 0; i < count; i++) {
        if (m[i].role != WORKFLOW_ROLE_START || m[i].workflow == last)
            continue; //  matches of one workflow are adjacent
        last = m[i].workflow;
        if (out && found < max)
            out[found] = last;
        found++;
    }
    return found;
}

bool
workflow_event_starts (const workflow_def_t *workflow, const char *agency,
                       const char *event_type, attr_lookup_fn lookup, void *user)
{
    assert (workflow);
    for (size_t i = 0; i < workflow->n_starts_on; i++) {
        const event_ref_t *ref = &workflow->starts_on[i];
        if (strcmp (ref->agency, agency) == 0 && strcmp (ref->event, event_type) == 0
            && workflow_cond_eval (ref->when, lookup, user))
            return true;
    }
    return false;
}

const step_def_t *
workflow_def_step (const workflow_def_t *workflow, const char *id, size_t *index)
{
    assert (workflow);
    size_t i = s_step_index (workflow->steps, workflow->n_steps, id);
    if (i == SIZE_MAX)
        return NULL;
    if (index)
        *index = i;
    return &workflow->steps[i];
}
