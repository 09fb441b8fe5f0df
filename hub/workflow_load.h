/*  workflow_load.h - what the passes of the definition loader share
    (private to hub/workflow_def.c, hub/workflow_yaml.c)

    workflow_yaml.c reads a definition file's bytes into a tree of nodes
    with their positions (libyaml's event API), keeps the list of problems
    found, and gives typed, checked access to the nodes; workflow_def.c
    walks the tree against the definition schema (conditions, deadlines,
    steps, the graph of prerequisites) and builds the set and its index.
    Everything a set keeps lives in its arena, freed at once.
*/
#ifndef ONENET_WORKFLOW_LOAD_H
#define ONENET_WORKFLOW_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdalign.h>

#if defined(__GNUC__)
#define WFDEF_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#else
#define WFDEF_PRINTF(f, a)
#endif

/*  Limits that keep a hostile or mistaken file from costing much.  */
#define FILE_MAX_BYTES    (1024 * 1024)            //  a definition is a few kilobytes
#define NEST_MAX          64                       //  YAML nesting depth
#define STEPS_MAX         256                      //  steps per workflow
#define NAME_MAX_LEN      63                       //  workflow names, step ids
#define ATTR_NAME_MAX_LEN 64                       //  attribute names in conditions
#define WORKING_DAYS_MAX  10000                    //  about 40 years of working days
#define WORKING_MIN_MAX   3600000                  //  10000 days of office hours
#define TTL_MAX_SECONDS   (INT64_C (3650) * 86400) //  ten years

typedef struct _arena_block_t arena_block_t;
struct _arena_block_t {
    arena_block_t *next; //  the block allocated before this one
    size_t size;         //  bytes of data
    size_t used;         //  bytes of data handed out
    max_align_t data[];  //  the memory, maximally aligned
};

typedef struct {
    arena_block_t *head; //  the block being filled, NULL before the first
} arena_t;

typedef enum { NODE_SCALAR, NODE_LIST, NODE_MAP } node_kind_t;

typedef struct _node_t node_t;
struct _node_t {
    node_kind_t kind; //  scalar, list or mapping
    int line;         //  1-based line where the node starts
    int col;          //  1-based column where the node starts
    const char *text; //  NODE_SCALAR: the value, NUL-terminated
    bool plain;       //  NODE_SCALAR: unquoted and untagged, so typed by its form
    node_t **items;   //  NODE_LIST: the items; NODE_MAP: key, value, key, value...
    size_t n;         //  NODE_LIST: items; NODE_MAP: pairs (items holds 2n)
};

/*  One problem found while loading.  */
typedef struct {
    size_t file; //  index of the file in load order, SIZE_MAX for the directory
    int line;    //  1-based line, 0 when the problem has no position
    int col;     //  1-based column, 0 when the problem has no position
    size_t seq;  //  order of discovery, keeps the sort stable
    char *text;  //  the whole line, "path:line:col: what is wrong"
} problem_t;

/*  The state of one load: the set being built and the problems so far.  */
typedef struct {
    arena_t *arena;              //  the set's arena: what is kept
    arena_t scratch;             //  the current file's node tree
    problem_t *problems;         //  problems found so far
    size_t n_problems;           //  entries in problems
    size_t max_problems;         //  entries allocated
    size_t file;                 //  index of the current file
    const char *path;            //  the current file, for messages
    const char *const *agencies; //  agency codes accepted, or NULL for any
    size_t n_agencies;           //  entries in agencies
    bool yaml_failed;            //  the current file's YAML could not be read
} loader_t;

/*  Checks an agency code against the known list; returns the arena copy
    or NULL after a problem.  */
const char *wy_agency (loader_t *ld, const node_t *node, const char *where);

/*  Returns size zeroed bytes aligned for any type, valid until the arena
    is freed.  */
void *wy_arena_alloc (arena_t *arena, size_t size);

void wy_arena_free (arena_t *arena);

char *wy_arena_strdup (arena_t *arena, const char *s);

/*  True for an attribute name: 1 to 64 characters of [A-Za-z0-9_].  */
bool wy_attr_name_ok (const char *s);

/*  Records a problem for each key of map that is not in allowed (a
    NULL-terminated list), with a did-you-mean hint.  */
void wy_check_keys (loader_t *ld, const node_t *map, const char *const *allowed,
                    const char *where);

/*  Counts the entries of a NULL-terminated array.  */
size_t wy_count (const char *const *list);

/*  Checks an event type (or task kind) against ident_event_type_valid.  */
const char *wy_event_type (loader_t *ld, const node_t *node, const char *what);

/*  A short description of what a node is, for "found ..." in messages:
    'a mapping', 'a list', 'nothing', or the scalar quoted (shortened).  */
const char *wy_found (const node_t *node, char *buf, size_t size);

/*  The value of key in a mapping, or NULL when absent.  */
const node_t *wy_get (const node_t *map, const char *key);

/*  A whole number in [min, max]; false after a problem.  */
bool wy_int_range (loader_t *ld, const node_t *node, const char *what, int64_t min,
                   int64_t max, int64_t *value);

/*  True when node is a list; otherwise records 'what must be a list'.  */
bool wy_is_list (loader_t *ld, const node_t *node, const char *what);

/*  True when node is a mapping; otherwise records a problem.  */
bool wy_is_map (loader_t *ld, const node_t *node, const char *what);

bool wy_is_null (const node_t *node);

/*  True for a workflow name or step id: [a-z][a-z0-9_]*, at most 63.  */
bool wy_name_ok (const char *s);

/*  Parses a whole file into its root node. Returns NULL after recording a
    problem when the YAML is bad or holds no document or more than one.  */
node_t *wy_parse_yaml (loader_t *ld, const char *bytes, size_t len);

/*  True for a plain true/false (YAML 1.2 core schema); *value receives it.  */
bool wy_plain_bool (const node_t *node, bool *value);

/*  True for a plain decimal integer that fits int64 ([-+]?[0-9]+).  */
bool wy_plain_int (const node_t *node, int64_t *value);

/*  True for a plain number: an integer, or [-+]?(digits[.digits]|.digits)
    with an optional exponent; *value receives it.  */
bool wy_plain_number (const node_t *node, double *value);

void wy_problem (loader_t *ld, int line, int col, const char *format, ...)
    WFDEF_PRINTF (4, 5);

void wy_problems_free (loader_t *ld);

/*  Writes the sorted problems into err, one per line, cutting after a
    whole line (with a count of the rest) when err is too small.  */
void wy_problems_write (loader_t *ld, char *err, size_t errlen);

/*  Records 'missing required key' for each of keys (NULL-terminated)
    absent from map. Returns true when all are present.  */
bool wy_require (loader_t *ld, const node_t *map, const char *const *keys,
                 const char *where);

/*  Writes '; did you mean "x"?' into buf when some candidate is close to
    word, else "": at most 2 edits away (and fewer than word's length), or
    else starting with word when word has at least 4 characters
    ("application" for "application_no").  */
const char *wy_suggest (const char *word, const char *const *candidates, size_t n,
                        char *buf, size_t size);

/*  The text of a scalar (any scalar but null), copied into the set's
    arena; NULL after a problem 'what must be text, found ...'.  */
const char *wy_text (loader_t *ld, const node_t *node, const char *what);

/*  Aborts on allocation failure, as strbuf does.  */
void *wy_xmalloc (size_t size);

void *wy_xrealloc (void *old, size_t size);

/*  True when a number is whole and small enough to print as an integer
    exactly (|x| < 2^53).  */
static inline bool
wy_is_whole (double x)
{
    return x > -9007199254740992.0 && x < 9007199254740992.0 && (double) (int64_t) x == x;
}

/*  A problem at a node's position.  */
#define wy_problem_at(ld, node, ...)                                                       \
    wy_problem ((ld), (node)->line, (node)->col, __VA_ARGS__)

#endif
