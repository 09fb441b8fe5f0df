/*  workflow_def.h - one-network workflow definitions: load, validate, look up

    A workflow type is data, not C code (DESIGN.md "One-network
    workflows"): each file workflows/<name>.yaml defines one workflow, its
    correlation key, the events that start it, its steps with their
    prerequisites, conditions and deadlines, and what rejects, reopens,
    cancels and completes it. docs/workflows.md documents the format with
    an annotated example; this module turns the files into the plain C
    structs below and checks them, so that the hub refuses to start on a
    bad definition and says where the problem is.

    A workflow_set_t holds every definition of one directory. It is built
    once, at start, and never changes afterwards: all its functions only
    read it and may run concurrently on one set from any thread. Every
    struct and string it hands out lives in one arena owned by the set and
    stays valid until workflow_set_destroy.

    Problems are reported all at once, one per line, each as
        workflows/power_connection.yaml:41:7: unknown key "deadlne" in step
        "connected"; did you mean "deadline"?
    with 1-based line and column, sorted by file and position, so that an
    operator can fix every definition in one pass.

    Conditions (step "when", event "when", deadline "when") are evaluated
    against attributes through a caller-supplied lookup, so the hub can
    evaluate them on an event's attributes or on an instance's, whatever
    they are stored in. Allocation failure aborts, as in strbuf.
*/

#ifndef ONENET_WORKFLOW_DEF_H_INCLUDED
#define ONENET_WORKFLOW_DEF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/*  A buffer this large holds one problem line; callers should give
    workflow_set_load_dir several times that for a whole directory.  */
#define WORKFLOW_ERR_LINE_MAX 512

/*  Hex digits of a definition digest, without the NUL.  */
#define WORKFLOW_DIGEST_HEX 16

//  --------------------------------------------------------------------------
//  Attribute values, as conditions and deadlines see them

/*  The kind of an attribute value handed to a condition.  */
typedef enum {
    ATTR_VALUE_MISSING = 0, //  the attribute is absent (or null)
    ATTR_VALUE_TEXT,        //  a string: .text
    ATTR_VALUE_INTEGER,     //  a whole number: .integer (times as ms since epoch)
    ATTR_VALUE_NUMBER,      //  a floating-point number: .number
    ATTR_VALUE_FLAG         //  a boolean: .flag
} attr_value_kind_t;

/*  One attribute value: a small tagged union, passed by value.  */
typedef struct {
    attr_value_kind_t kind; //  which field below holds the value
    const char *text;       //  ATTR_VALUE_TEXT: NUL-terminated UTF-8, not owned
    int64_t integer;        //  ATTR_VALUE_INTEGER
    double number;          //  ATTR_VALUE_NUMBER
    bool flag;              //  ATTR_VALUE_FLAG
} attr_value_t;

/*  Returns the attribute called name, or a value of kind
    ATTR_VALUE_MISSING when there is none. user is the pointer the caller
    passed along with the function. A text value must stay valid until the
    evaluation that asked for it returns.  */
typedef attr_value_t (*attr_lookup_fn) (const char *name, void *user);

//  --------------------------------------------------------------------------
//  Conditions

/*  What a condition node tests.  */
typedef enum {
    CONDITION_EQUALS, //  {attr: X, equals: V}: X is present and equal to V
    CONDITION_IN,     //  {attr: X, in: [V, ...]}: X is equal to one of the values
    CONDITION_EXISTS, //  {attr: X, exists: B}: X is present (B true) or absent (B false)
    CONDITION_NOT,    //  {not: C}: C does not hold
    CONDITION_ALL,    //  {all: [C, ...]}: every C holds (true for none)
    CONDITION_ANY     //  {any: [C, ...]}: some C holds (false for none)
} condition_kind_t;

/*  One node of a condition tree. Equality is typed: a text equals a text
    with the same bytes, a flag equals a flag, and integers and numbers
    compare by numeric value with each other; any other pairing is unequal
    (so the text "true" does not equal the flag true).  */
typedef struct _condition_t condition_t;
struct _condition_t {
    condition_kind_t kind;       //  which test this node makes
    const char *attr;            //  EQUALS, IN, EXISTS: the attribute's name
    const attr_value_t *values;  //  EQUALS: one value, IN: the listed values
    size_t n_values;             //  entries in values
    bool exists;                 //  EXISTS: true to require presence, false absence
    const condition_t *children; //  NOT: one child, ALL and ANY: the listed conditions
    size_t n_children;           //  entries in children
    int line;                    //  where the condition starts in its file, 1-based
    int col;                     //  column of that position, 1-based
};

//  --------------------------------------------------------------------------
//  Deadlines

/*  The unit a step's deadline is counted in.  */
typedef enum {
    DEADLINE_NONE = 0,        //  the step has no deadline
    DEADLINE_WORKING_DAYS,    //  end of the n-th working day after the clock starts
    DEADLINE_WORKING_MINUTES, //  n minutes of office hours on working days
    DEADLINE_IMMEDIATE        //  the hub's configured immediate budget (working minutes)
} deadline_unit_t;

/*  What a deadline's clock starts from.  */
typedef enum {
    DEADLINE_FROM_READY = 0, //  when the step's prerequisites are done (default)
    DEADLINE_FROM_START,     //  when the instance started
    DEADLINE_FROM_STEP       //  when the step named by from_step completed
} deadline_from_t;

/*  One entry of working_days_by / working_minutes_by: an attribute value
    and the amount it chooses.  */
typedef struct {
    const char *value; //  the value as text: "low_voltage", "true", "42"
    int amount;        //  working days or minutes for that value, >= 0
} deadline_choice_t;

/*  One deadline of a step, or one alternative of a list of them. Exactly
    one way of giving the amount is used: a fixed amount, a choice by
    attribute (by_attr not NULL), or immediate.  */
typedef struct {
    deadline_unit_t unit;             //  days, minutes, immediate, or none
    int amount;                       //  fixed amount in unit, when by_attr is NULL
    const char *by_attr;              //  attribute that chooses the amount, or NULL
    const deadline_choice_t *choices; //  the amount per attribute value
    size_t n_choices;                 //  entries in choices
    bool has_default;                 //  true when default_amount applies to other values
    int default_amount;               //  amount for a missing or unlisted value
    deadline_from_t from;             //  what the clock starts from
    const char *from_step;            //  DEADLINE_FROM_STEP: that step's id
    size_t from_step_index;           //  DEADLINE_FROM_STEP: its index in steps
    const condition_t *when;          //  the deadline applies only when this holds, or NULL
    int line;                         //  where the deadline is defined, 1-based
    int col;                          //  column of that position, 1-based
} deadline_spec_t;

//  --------------------------------------------------------------------------
//  Events and steps

/*  What a refusal does to an instance (rejects_on).  */
typedef enum {
    REJECT_END = 0, //  the instance ends with status rejected (default)
    REJECT_SUSPEND  //  the instance is suspended until a reopens_on event
} reject_effect_t;

/*  An (agency, event type) pair named by starts_on, rejects_on,
    reopens_on or cancels_on.  */
typedef struct {
    const char *agency;      //  agency code, one the hub knows
    const char *event;       //  event type from that agency's vocabulary
    const condition_t *when; //  on the event's own attributes, or NULL for always
    reject_effect_t effect;  //  rejects_on only: end or suspend
    int line;                //  where the entry is written, 1-based
    int col;                 //  column of that position, 1-based
} event_ref_t;

/*  One step of a workflow: an agency's action, done when one of its
    completes_on events arrives.  */
typedef struct {
    const char *id;                   //  [a-z][a-z0-9_]*, unique in the workflow
    const char *title;                //  human title, or NULL
    const char *agency;               //  the agency that acts (and receives the task)
    const char *const *completes_on;  //  event types of agency that complete the step
    size_t n_completes_on;            //  entries in completes_on, at least 1
    const char *const *after;         //  ids of the prerequisite steps
    const size_t *after_index;        //  their indexes in the workflow's steps
    size_t n_after;                   //  entries in after and after_index
    const condition_t *when;          //  on instance attributes: the step exists only when
                                      //  this holds; NULL for always
    const char *task;                 //  task kind issued to agency when the step is ready,
                                      //  or NULL for none
    const char *const *payload;       //  instance attributes the task carries (the agency
                                      //  receives these and nothing else of the case)
    size_t n_payload;                 //  entries in payload
    const char *payload_json;         //  payload as a JSON array of names ("[]" when
                                      //  empty); NULL without a task
    const deadline_spec_t *deadlines; //  the step's deadline: one, or the alternatives of
                                      //  a list in file order, the first whose when holds
                                      //  applying; NULL for none
    size_t n_deadlines;               //  entries in deadlines (0: no deadline)
    bool deadline_list;               //  the deadline was written as a list
    int line;                         //  where the step is defined, 1-based
    int col;                          //  column of that position, 1-based
} step_def_t;

/*  One workflow definition, as read from one file.  */
typedef struct {
    const char *name;              //  [a-z][a-z0-9_]*, unique in the set
    int version;                   //  >= 1, recorded by each instance at its start
    const char *title;             //  human title, or NULL
    const int *seed_items;         //  seed document items it implements
    size_t n_seed_items;           //  entries in seed_items
    key_kind_t key;                //  correlation key kind
    const event_ref_t *starts_on;  //  events that may create an instance
    size_t n_starts_on;            //  entries in starts_on, at least 1
    int64_t unmatched_ttl_ms;      //  how long an unmatched event is parked, > 0
    bool record_between_cases;     //  between_cases: record: an event that finds no
                                   //  running instance is only stored (joins no later
                                   //  one, not listed unmatched); false: parked
    double warn_at;                //  share of the allowed time before a warning, (0, 1)
    const step_def_t *steps;       //  the steps in file order
    size_t n_steps;                //  entries in steps, at least 1
    const event_ref_t *rejects_on; //  refusals that end or suspend an instance
    size_t n_rejects_on;           //  entries in rejects_on
    const event_ref_t *reopens_on; //  corrections that reopen a suspended instance
    size_t n_reopens_on;           //  entries in reopens_on
    const event_ref_t *cancels_on; //  events that cancel an instance
    size_t n_cancels_on;           //  entries in cancels_on
    bool completes_all;            //  true: done when every existing step is done
    const size_t *completes_when;  //  otherwise: indexes of the steps that must be done
    size_t n_completes_when;       //  entries in completes_when
    const char *path;              //  the file it was read from, as given to the loader
    const char *source; //  the bytes read (NUL-terminated): exactly those digested
    size_t source_len;  //  bytes in source
    uint64_t digest;    //  FNV-1a 64 of the file's bytes
    char digest_hex[WORKFLOW_DIGEST_HEX + 1]; //  digest as 16 lower-case hex digits
} workflow_def_t;

/*  What an (agency, event type) pair means to one workflow.  */
typedef enum {
    WORKFLOW_ROLE_START,  //  in starts_on: may create an instance (check ref->when)
    WORKFLOW_ROLE_STEP,   //  in completes_on of step: completes it (check step->when)
    WORKFLOW_ROLE_REJECT, //  in rejects_on: ends or suspends (ref->effect, ref->when)
    WORKFLOW_ROLE_REOPEN, //  in reopens_on: reopens a suspended instance
    WORKFLOW_ROLE_CANCEL  //  in cancels_on: cancels the instance
} workflow_role_t;

/*  One thing an event can do to one workflow, from workflow_set_relevant.  */
typedef struct {
    const workflow_def_t *workflow; //  the workflow concerned
    workflow_role_t role;           //  what the event does to it
    const step_def_t *step;         //  WORKFLOW_ROLE_STEP: the step; NULL otherwise
    size_t step_index;              //  WORKFLOW_ROLE_STEP: its index in workflow->steps
    const event_ref_t *ref;         //  the starts_on/rejects_on/... entry; NULL for a step
} workflow_match_t;

/*  How a step's deadline resolves for given instance attributes.  */
typedef enum {
    DEADLINE_RESOLVED,       //  the amount is known
    DEADLINE_NOT_APPLICABLE, //  no deadline: none defined, or its when does not hold
    DEADLINE_UNRESOLVED      //  by attribute, and the value is missing or unlisted
                             //  with no default: a finding to report
} deadline_resolution_t;

typedef struct _workflow_set_t workflow_set_t;

//  --------------------------------------------------------------------------
//  Loading

/*  Loads every file whose name ends in ".yaml" (and does not start with
    '.') in dir, in byte order of their names, and validates each one and
    the set as a whole (workflow names are unique across files). Agencies
    must be among the n_agencies codes of known_agencies; known_agencies
    NULL accepts any well-formed agency code. Returns the set, or NULL
    when there is any problem: then err (may be NULL) holds every problem,
    one per line, as 'file:line:col: what is wrong', where file is dir
    joined with the file's name. A directory that cannot be read, or holds
    no definition, is one problem: 'could not open workflow directory
    "dir": reason' or 'dir: no workflow definitions (*.yaml) in
    directory'. When err is too small the list is cut after a whole line
    and ends with a line saying how many more problems there are. A file
    that cannot be read is 'file: could not open workflow definition:
    reason'. Cost: linear in the bytes read, plus O(s^2) per workflow of
    s steps for the checks on after.  */
workflow_set_t *workflow_set_load_dir (const char *dir, const char *const *known_agencies,
                                       size_t n_agencies, char *err, size_t errlen);

/*  Loads and validates one file, as workflow_set_load_dir does for each
    file of a directory; path is used as given in messages. Returns a set
    of one workflow, or NULL with the problems in err.  */
workflow_set_t *workflow_set_load_file (const char *path, const char *const *known_agencies,
                                        size_t n_agencies, char *err, size_t errlen);

/*  Loads and validates one definition from bytes in memory (e.g. as a hub
    stored them in workflow_definitions), exactly as from a file holding
    them; label stands for the file in messages and in path. The digest is
    that of the bytes. Returns a set of one workflow, or NULL with the
    problems in err.  */
workflow_set_t *workflow_set_load_bytes (const char *label, const char *bytes, size_t len,
                                         const char *const *known_agencies,
                                         size_t n_agencies, char *err, size_t errlen);

/*  Destroys the set and every definition in it, and sets *self_p to NULL.
    Does nothing when self_p or *self_p is NULL.  */
void workflow_set_destroy (workflow_set_t **self_p);

//  --------------------------------------------------------------------------
//  Lookups (all O(1) or O(log n), no allocation)

/*  Number of workflows in the set.  */
size_t workflow_set_count (const workflow_set_t *self);

/*  The i-th workflow, in the order of their files' names; NULL when i is
    out of range.  */
const workflow_def_t *workflow_set_get (const workflow_set_t *self, size_t i);

/*  The workflow called name, or NULL. O(log n).  */
const workflow_def_t *workflow_set_find (const workflow_set_t *self, const char *name);

/*  Writes into out (room for max entries) the distinct workflows that an
    event of agency and event_type may start: those with a starts_on entry
    naming both, in set order. The entries' when conditions are not
    evaluated here (use workflow_set_relevant or workflow_event_starts for
    that). Returns the number of such workflows, which may exceed max; only
    the first max are written. O(log e + k) for e indexed events and k
    matches.  */
size_t workflow_set_by_start_event (const workflow_set_t *self, const char *agency,
                                    const char *event_type, const workflow_def_t **out,
                                    size_t max);

/*  Everything an event of agency and event_type can do in the whole set:
    returns a pointer to *count matches (NULL and 0 when none), ordered by
    workflow (set order), then role (start, steps in file order, reject,
    reopen, cancel). A pair listed twice with different when conditions
    gives two matches. The array lives as long as the set. Conditions are
    not evaluated: that is the caller's business, with the event's
    attributes for ref->when and the instance's for step->when.
    O(log e).  */
const workflow_match_t *workflow_set_relevant (const workflow_set_t *self,
                                               const char *agency, const char *event_type,
                                               size_t *count);

/*  True when an event of agency and event_type whose attributes lookup
    returns starts workflow: some starts_on entry names the pair and its
    when holds. O(n_starts_on).  */
bool workflow_event_starts (const workflow_def_t *workflow, const char *agency,
                            const char *event_type, attr_lookup_fn lookup, void *user);

/*  The step called id in workflow, or NULL; *index (may be NULL) receives
    its index. O(steps).  */
const step_def_t *workflow_def_step (const workflow_def_t *workflow, const char *id,
                                     size_t *index);

//  --------------------------------------------------------------------------
//  Evaluation

/*  True when condition c holds for the attributes that lookup returns;
    true when c is NULL (no condition). A missing attribute makes EQUALS
    and IN false and EXISTS true only for exists: false. Cost: one lookup
    per attribute test in the tree.  */
bool workflow_cond_eval (const condition_t *c, const attr_lookup_fn lookup, void *user);

/*  Resolves step s's deadline for the attributes lookup returns: takes
    the first of s->deadlines whose when holds (none holding, or none
    defined: DEADLINE_NOT_APPLICABLE), then its fixed amount or the amount
    that the by_attr value chooses (an attribute is compared as text: a
    flag as "true" or "false", an integer in decimal, a number in decimal
    when it is whole), falling back to the default; a value with no amount
    and no default is DEADLINE_UNRESOLVED (the alternatives after it are
    not tried: its when chose it). Writes the alternative taken into *spec
    (may be NULL; NULL when none applies). On DEADLINE_RESOLVED writes the
    amount into *amount (may be NULL): working days or working minutes by
    (*spec)->unit, 0 for DEADLINE_IMMEDIATE (whose budget is the hub's
    configuration). Cost: one condition per alternative tried.  */
deadline_resolution_t workflow_deadline_choose (const step_def_t *s, attr_lookup_fn lookup,
                                                void *user, int *amount,
                                                const deadline_spec_t **spec);

/*  workflow_deadline_choose without the alternative taken.  */
deadline_resolution_t workflow_deadline_resolve (const step_def_t *s, attr_lookup_fn lookup,
                                                 void *user, int *amount);

/*  The amount of step s's deadline, as workflow_deadline_resolve: *found
    (may be NULL) is true only when it resolved; returns 0 otherwise.  */
int workflow_deadline_amount (const step_def_t *s, attr_lookup_fn lookup, void *user,
                              bool *found);

/*  Text names for logs and messages: "working_days", "ready", "start",
    "suspend", "step", ...  */
const char *deadline_unit_name (deadline_unit_t unit);
const char *deadline_from_name (deadline_from_t from);
const char *reject_effect_name (reject_effect_t effect);
const char *workflow_role_name (workflow_role_t role);

/*  FNV-1a 64 of len bytes: the digest of a definition file.  */
uint64_t workflow_digest (const void *bytes, size_t len);

#ifdef __cplusplus
}
#endif

#endif
