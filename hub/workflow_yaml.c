/*  workflow_yaml.c - a definition file as positioned nodes, its problems,
    and typed access to the nodes; see workflow_load.h. */

#include "workflow_load.h"
#include "workflow_def.h"

#include "ident.h"
#include "strbuf.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h> //  isfinite, a macro: no libm needed
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

//  --------------------------------------------------------------------------
//  Arena: every definition of a set lives in one, freed at once

/*  Aborts on allocation failure, as strbuf does.  */
void *
wy_xmalloc (size_t size)
{
    void *p = malloc (size ? size : 1);
    if (!p) {
        fprintf (stderr, "workflow_def: out of memory allocating %zu bytes\n", size);
        abort ();
    }
    return p;
}

void *
wy_xrealloc (void *old, size_t size)
{
    void *p = realloc (old, size ? size : 1);
    if (!p) {
        fprintf (stderr, "workflow_def: out of memory allocating %zu bytes\n", size);
        abort ();
    }
    return p;
}

/*  Returns size zeroed bytes aligned for any type, valid until the arena
    is freed.  */
void *
wy_arena_alloc (arena_t *arena, size_t size)
{
    size_t align = alignof (max_align_t);
    size = (size + align - 1) / align * align;
    if (size == 0)
        size = align;
    arena_block_t *block = arena->head;
    if (!block || block->size - block->used < size) {
        size_t want = size > 16384 ? size : 16384;
        block = (arena_block_t *) wy_xmalloc (sizeof (arena_block_t) + want);
        block->next = arena->head;
        block->size = want;
        block->used = 0;
        arena->head = block;
    }
    void *p = (char *) block->data + block->used;
    block->used += size;
    memset (p, 0, size);
    return p;
}

static char *
s_arena_strndup (arena_t *arena, const char *s, size_t len)
{
    char *copy = (char *) wy_arena_alloc (arena, len + 1);
    memcpy (copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *
wy_arena_strdup (arena_t *arena, const char *s)
{
    return s_arena_strndup (arena, s, strlen (s));
}

void
wy_arena_free (arena_t *arena)
{
    while (arena->head) {
        arena_block_t *next = arena->head->next;
        free (arena->head);
        arena->head = next;
    }
}

//  --------------------------------------------------------------------------
//  The YAML node tree (scratch, one per file)

//  --------------------------------------------------------------------------
//  Problems

/*  Records a problem at line:col of the current file (line 0: no
    position, message as 'path: what').  */

void
wy_problem (loader_t *ld, int line, int col, const char *format, ...)
{
    char what[WORKFLOW_ERR_LINE_MAX];
    va_list args;
    va_start (args, format);
    vsnprintf (what, sizeof what, format, args);
    va_end (args);
    strbuf_t sb;
    strbuf_init (&sb);
    if (line > 0)
        strbuf_printf (&sb, "%s:%d:%d: %s", ld->path, line, col, what);
    else
        strbuf_printf (&sb, "%s: %s", ld->path, what);
    if (ld->n_problems == ld->max_problems) {
        ld->max_problems = ld->max_problems ? ld->max_problems * 2 : 16;
        ld->problems =
            (problem_t *) wy_xrealloc (ld->problems, ld->max_problems * sizeof (problem_t));
    }
    problem_t *p = &ld->problems[ld->n_problems];
    p->file = ld->file;
    p->line = line;
    p->col = col;
    p->seq = ld->n_problems;
    p->text = sb.data;
    ld->n_problems++;
}

static int
s_problem_compare (const void *a, const void *b)
{
    const problem_t *pa = (const problem_t *) a, *pb = (const problem_t *) b;
    if (pa->file != pb->file)
        return pa->file < pb->file ? -1 : 1;
    if (pa->line != pb->line)
        return pa->line < pb->line ? -1 : 1;
    if (pa->col != pb->col)
        return pa->col < pb->col ? -1 : 1;
    return pa->seq < pb->seq ? -1 : pa->seq > pb->seq;
}

/*  Writes the sorted problems into err, one per line, cutting after a
    whole line (with a count of the rest) when err is too small.  */
void
wy_problems_write (loader_t *ld, char *err, size_t errlen)
{
    qsort (ld->problems, ld->n_problems, sizeof (problem_t), s_problem_compare);
    if (!err || errlen == 0)
        return;
    err[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < ld->n_problems; i++) {
        size_t len = strlen (ld->problems[i].text);
        size_t rest = ld->n_problems - i - 1;
        //  room for this line, its newline, and a closing count line when
        //  more lines follow
        char more[64] = "";
        if (rest > 0)
            snprintf (more, sizeof more, "... and %zu more problems", rest + 1);
        if (used + len + 1 + (rest ? strlen (more) + 1 : 0) >= errlen) {
            snprintf (more, sizeof more, "... and %zu more problems", ld->n_problems - i);
            if (used + strlen (more) < errlen)
                memcpy (err + used, more, strlen (more) + 1);
            else
                snprintf (err, errlen, "%s", ld->problems[i].text);
            return;
        }
        memcpy (err + used, ld->problems[i].text, len);
        used += len;
        if (rest > 0)
            err[used++] = '\n';
        err[used] = '\0';
    }
}

void
wy_problems_free (loader_t *ld)
{
    for (size_t i = 0; i < ld->n_problems; i++)
        free (ld->problems[i].text);
    free (ld->problems);
    ld->problems = NULL;
    ld->n_problems = ld->max_problems = 0;
}

//  --------------------------------------------------------------------------
//  Small helpers

/*  Edit distance between two short strings (Levenshtein), capped at 99
    for long ones, for "did you mean" hints.  */
static int
s_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    if (la > 64 || lb > 64)
        return 99;
    int row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int) j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int) i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/*  Writes '; did you mean "x"?' into buf when some candidate is close to
    word, else "": at most 2 edits away (and fewer than word's length), or
    else starting with word when word has at least 4 characters
    ("application" for "application_no").  */
const char *
wy_suggest (const char *word, const char *const *candidates, size_t n, char *buf,
            size_t size)
{
    //  score: twice the edit distance, 5 for a prefix match; lower wins
    int best = 6;
    const char *pick = NULL;
    size_t len = strlen (word);
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        int d = s_distance (word, candidates[i]);
        int score = d <= 2 && d < (int) len && d > 0 ? 2 * d : 99;
        if (score == 99 && len >= 4 && strlen (candidates[i]) > len
            && strncmp (candidates[i], word, len) == 0)
            score = 5;
        if (score < best) {
            best = score;
            pick = candidates[i];
        }
    }
    if (pick)
        snprintf (buf, size, "; did you mean \"%s\"?", pick);
    else if (size)
        buf[0] = '\0';
    return buf;
}

/*  Counts the entries of a NULL-terminated array.  */
size_t
wy_count (const char *const *list)
{
    size_t n = 0;
    while (list[n])
        n++;
    return n;
}

/*  True for a workflow name or step id: [a-z][a-z0-9_]*, at most 63.  */
bool
wy_name_ok (const char *s)
{
    size_t len = strlen (s);
    if (len == 0 || len > NAME_MAX_LEN || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    for (size_t i = 1; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

/*  True for an attribute name: 1 to 64 characters of [A-Za-z0-9_].  */
bool
wy_attr_name_ok (const char *s)
{
    size_t len = strlen (s);
    if (len == 0 || len > ATTR_NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_'))
            return false;
    }
    return true;
}

/*  A short description of what a node is, for "found ..." in messages:
    'a mapping', 'a list', 'nothing', or the scalar quoted (shortened).  */
const char *
wy_found (const node_t *node, char *buf, size_t size)
{
    if (node->kind == NODE_MAP)
        snprintf (buf, size, "a mapping");
    else if (node->kind == NODE_LIST)
        snprintf (buf, size, "a list");
    else if (node->plain
             && (!*node->text || strcmp (node->text, "~") == 0
                 || strcmp (node->text, "null") == 0 || strcmp (node->text, "Null") == 0
                 || strcmp (node->text, "NULL") == 0))
        snprintf (buf, size, "nothing");
    else {
        char cut[48];
        utf8_safe_copy (cut, sizeof cut, node->text);
        snprintf (buf, size, "\"%s%s\"", cut,
                  strlen (node->text) >= sizeof cut ? "..." : "");
    }
    return buf;
}

//  --------------------------------------------------------------------------
//  YAML to nodes

/*  Reads the next event; on a YAML error records it and returns false.  */
static bool
s_next_event (loader_t *ld, yaml_parser_t *parser, yaml_event_t *event, const char *bytes,
              size_t len)
{
    if (yaml_parser_parse (parser, event))
        return true;
    ld->yaml_failed = true;
    const char *problem = parser->problem ? parser->problem : "unknown error";
    if (parser->error == YAML_READER_ERROR) {
        //  bad encoding: libyaml gives a byte offset, not a mark
        int line = 1, col = 1;
        for (size_t i = 0; i < parser->problem_offset && i < len; i++) {
            if (bytes[i] == '\n') {
                line++;
                col = 1;
            }
            else if (((unsigned char) bytes[i] & 0xC0) != 0x80)
                col++;
        }
        wy_problem (ld, line, col, "invalid YAML: %s", problem);
        return false;
    }
    int line = (int) parser->problem_mark.line + 1;
    int col = (int) parser->problem_mark.column + 1;
    if (parser->context)
        wy_problem (ld, line, col, "invalid YAML: %s %s (started at line %d, column %d)",
                    problem, parser->context, (int) parser->context_mark.line + 1,
                    (int) parser->context_mark.column + 1);
    else
        wy_problem (ld, line, col, "invalid YAML: %s", problem);
    return false;
}

/*  Builds the node that event starts (event is consumed), reading the
    events of its children. Returns NULL after recording a problem that
    ends the file (YAML error, alias, too deep).  */
static node_t *
s_build_node (loader_t *ld, yaml_parser_t *parser, yaml_event_t *event, int depth,
              const char *bytes, size_t len)
{
    node_t *node = (node_t *) wy_arena_alloc (&ld->scratch, sizeof (node_t));
    node->line = (int) event->start_mark.line + 1;
    node->col = (int) event->start_mark.column + 1;
    if (depth > NEST_MAX) {
        wy_problem_at (ld, node, "nesting is deeper than %d levels", NEST_MAX);
        yaml_event_delete (event);
        ld->yaml_failed = true;
        return NULL;
    }
    if (event->type == YAML_ALIAS_EVENT) {
        wy_problem_at (ld, node, "aliases (*%s) are not supported in workflow definitions",
                       (const char *) event->data.alias.anchor);
        yaml_event_delete (event);
        ld->yaml_failed = true;
        return NULL;
    }
    if (event->type == YAML_SCALAR_EVENT) {
        node->kind = NODE_SCALAR;
        const char *value = (const char *) event->data.scalar.value;
        size_t length = event->data.scalar.length;
        const char *tag = (const char *) event->data.scalar.tag;
        node->text = s_arena_strndup (&ld->scratch, value, length);
        node->plain = event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !tag;
        //  a problem here is recorded; the node stays usable as text
        if (memchr (value, '\0', length))
            wy_problem_at (ld, node, "text holds a NUL character");
        else if (tag && strcmp (tag, YAML_STR_TAG) != 0 && strcmp (tag, "!") != 0)
            wy_problem_at (ld, node, "tag \"%s\" is not supported; only !!str is", tag);
        yaml_event_delete (event);
        return node;
    }
    if (event->type != YAML_SEQUENCE_START_EVENT
        && event->type != YAML_MAPPING_START_EVENT) {
        wy_problem_at (ld, node, "invalid YAML: unexpected event");
        yaml_event_delete (event);
        ld->yaml_failed = true;
        return NULL;
    }
    bool is_map = event->type == YAML_MAPPING_START_EVENT;
    if (is_map && event->data.mapping_start.tag
        && strcmp ((const char *) event->data.mapping_start.tag, YAML_MAP_TAG) != 0)
        wy_problem_at (ld, node, "tag \"%s\" is not supported on a mapping",
                       (const char *) event->data.mapping_start.tag);
    if (!is_map && event->data.sequence_start.tag
        && strcmp ((const char *) event->data.sequence_start.tag, YAML_SEQ_TAG) != 0)
        wy_problem_at (ld, node, "tag \"%s\" is not supported on a list",
                       (const char *) event->data.sequence_start.tag);
    yaml_event_delete (event);
    node->kind = is_map ? NODE_MAP : NODE_LIST;
    yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;

    node_t **items = NULL;
    size_t n_items = 0, max_items = 0;
    while (true) {
        yaml_event_t child;
        if (!s_next_event (ld, parser, &child, bytes, len)) {
            free (items);
            return NULL;
        }
        if (child.type == end) {
            yaml_event_delete (&child);
            break;
        }
        node_t *built = s_build_node (ld, parser, &child, depth + 1, bytes, len);
        if (!built) {
            free (items);
            return NULL;
        }
        if (n_items == max_items) {
            max_items = max_items ? max_items * 2 : 8;
            items = (node_t **) wy_xrealloc (items, max_items * sizeof (node_t *));
        }
        items[n_items++] = built;
    }
    node->items =
        (node_t **) wy_arena_alloc (&ld->scratch, (n_items + 1) * sizeof (node_t *));
    if (n_items)
        memcpy (node->items, items, n_items * sizeof (node_t *));
    free (items);
    node->n = is_map ? n_items / 2 : n_items;

    if (is_map) {
        for (size_t i = 0; i < node->n; i++) {
            const node_t *key = node->items[2 * i];
            if (key->kind != NODE_SCALAR) {
                wy_problem_at (ld, key, "mapping keys must be plain text, found %s",
                               key->kind == NODE_MAP ? "a mapping" : "a list");
                continue;
            }
            for (size_t j = 0; j < i; j++) {
                const node_t *earlier = node->items[2 * j];
                if (earlier->kind == NODE_SCALAR
                    && strcmp (earlier->text, key->text) == 0) {
                    wy_problem_at (ld, key, "duplicate key \"%s\" (first at line %d)",
                                   key->text, earlier->line);
                    break;
                }
            }
        }
    }
    return node;
}

/*  Parses a whole file into its root node. Returns NULL after recording a
    problem when the YAML is bad or holds no document or more than one.  */
node_t *
wy_parse_yaml (loader_t *ld, const char *bytes, size_t len)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize (&parser)) {
        fprintf (stderr, "workflow_def: out of memory starting the YAML parser\n");
        abort ();
    }
    yaml_parser_set_input_string (&parser, (const unsigned char *) bytes, len);
    yaml_parser_set_encoding (&parser, YAML_UTF8_ENCODING);
    node_t *root = NULL;
    yaml_event_t event;
    bool ok = s_next_event (ld, &parser, &event, bytes, len); //  stream start
    if (ok)
        yaml_event_delete (&event);
    ok = ok && s_next_event (ld, &parser, &event, bytes, len);
    if (ok && event.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete (&event);
        wy_problem (ld, 1, 1, "file holds no workflow definition");
        ok = false;
    }
    else if (ok) {
        yaml_event_delete (&event); //  document start
        ok = s_next_event (ld, &parser, &event, bytes, len);
        if (ok)
            root = s_build_node (ld, &parser, &event, 0, bytes, len);
        ok = root != NULL;
        ok = ok && s_next_event (ld, &parser, &event, bytes, len); //  document end
        if (ok)
            yaml_event_delete (&event);
        ok = ok && s_next_event (ld, &parser, &event, bytes, len);
        if (ok) {
            if (event.type == YAML_DOCUMENT_START_EVENT) {
                wy_problem (ld, (int) event.start_mark.line + 1,
                            (int) event.start_mark.column + 1,
                            "file holds more than one YAML document; "
                            "give one workflow per file");
                ok = false;
            }
            yaml_event_delete (&event);
        }
    }
    yaml_parser_delete (&parser);
    return ok ? root : NULL;
}

//  --------------------------------------------------------------------------
//  Typed access to nodes

bool
wy_is_null (const node_t *node)
{
    return node->kind == NODE_SCALAR && node->plain
           && (!*node->text || strcmp (node->text, "~") == 0
               || strcmp (node->text, "null") == 0 || strcmp (node->text, "Null") == 0
               || strcmp (node->text, "NULL") == 0);
}

/*  True for a plain true/false (YAML 1.2 core schema); *value receives it.  */
bool
wy_plain_bool (const node_t *node, bool *value)
{
    if (node->kind != NODE_SCALAR || !node->plain)
        return false;
    const char *t = node->text;
    if (strcmp (t, "true") == 0 || strcmp (t, "True") == 0 || strcmp (t, "TRUE") == 0) {
        *value = true;
        return true;
    }
    if (strcmp (t, "false") == 0 || strcmp (t, "False") == 0 || strcmp (t, "FALSE") == 0) {
        *value = false;
        return true;
    }
    return false;
}

/*  True for a plain decimal integer that fits int64 ([-+]?[0-9]+).  */
bool
wy_plain_int (const node_t *node, int64_t *value)
{
    if (node->kind != NODE_SCALAR || !node->plain)
        return false;
    const char *t = node->text;
    size_t i = (t[0] == '-' || t[0] == '+') ? 1 : 0;
    if (!t[i])
        return false;
    for (size_t j = i; t[j]; j++)
        if (t[j] < '0' || t[j] > '9')
            return false;
    errno = 0;
    long long v = strtoll (t, NULL, 10);
    if (errno == ERANGE)
        return false;
    *value = (int64_t) v;
    return true;
}

/*  True for a plain number: an integer, or [-+]?(digits[.digits]|.digits)
    with an optional exponent; *value receives it.  */
bool
wy_plain_number (const node_t *node, double *value)
{
    int64_t i;
    if (wy_plain_int (node, &i)) {
        *value = (double) i;
        return true;
    }
    if (node->kind != NODE_SCALAR || !node->plain)
        return false;
    const char *t = node->text;
    size_t k = (t[0] == '-' || t[0] == '+') ? 1 : 0;
    size_t digits = 0;
    while (t[k] >= '0' && t[k] <= '9') {
        k++;
        digits++;
    }
    if (t[k] == '.') {
        k++;
        while (t[k] >= '0' && t[k] <= '9') {
            k++;
            digits++;
        }
    }
    if (digits == 0)
        return false;
    if (t[k] == 'e' || t[k] == 'E') {
        k++;
        if (t[k] == '-' || t[k] == '+')
            k++;
        if (!(t[k] >= '0' && t[k] <= '9'))
            return false;
        while (t[k] >= '0' && t[k] <= '9')
            k++;
    }
    if (t[k])
        return false;
    *value = strtod (t, NULL);
    return isfinite (*value);
}

/*  The value of key in a mapping, or NULL when absent.  */
const node_t *
wy_get (const node_t *map, const char *key)
{
    if (!map || map->kind != NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const node_t *k = map->items[2 * i];
        if (k->kind == NODE_SCALAR && strcmp (k->text, key) == 0)
            return map->items[2 * i + 1];
    }
    return NULL;
}

/*  Records a problem for each key of map that is not in allowed (a
    NULL-terminated list), with a did-you-mean hint.  */
void
wy_check_keys (loader_t *ld, const node_t *map, const char *const *allowed,
               const char *where)
{
    size_t n_allowed = wy_count (allowed);
    for (size_t i = 0; i < map->n; i++) {
        const node_t *key = map->items[2 * i];
        if (key->kind != NODE_SCALAR)
            continue;
        bool known = false;
        for (size_t j = 0; j < n_allowed && !known; j++)
            known = strcmp (key->text, allowed[j]) == 0;
        if (!known) {
            char hint[96];
            char shown[80];
            utf8_safe_copy (shown, sizeof shown, key->text);
            wy_problem_at (ld, key, "unknown key \"%s\" in %s%s", shown, where,
                           wy_suggest (key->text, allowed, n_allowed, hint, sizeof hint));
        }
    }
}

/*  Records 'missing required key' for each of keys (NULL-terminated)
    absent from map. Returns true when all are present.  */
bool
wy_require (loader_t *ld, const node_t *map, const char *const *keys, const char *where)
{
    bool all = true;
    for (size_t i = 0; keys[i]; i++)
        if (!wy_get (map, keys[i])) {
            wy_problem_at (ld, map, "missing required key \"%s\" in %s", keys[i], where);
            all = false;
        }
    return all;
}

/*  The text of a scalar (any scalar but null), copied into the set's
    arena; NULL after a problem 'what must be text, found ...'.  */
const char *
wy_text (loader_t *ld, const node_t *node, const char *what)
{
    if (node->kind != NODE_SCALAR || wy_is_null (node)) {
        char found[64];
        wy_problem_at (ld, node, "%s must be text, found %s", what,
                       wy_found (node, found, sizeof found));
        return NULL;
    }
    return wy_arena_strdup (ld->arena, node->text);
}

/*  A whole number in [min, max]; false after a problem.  */
bool
wy_int_range (loader_t *ld, const node_t *node, const char *what, int64_t min, int64_t max,
              int64_t *value)
{
    char found[64];
    int64_t v;
    if (!wy_plain_int (node, &v)) {
        wy_problem_at (ld, node, "%s must be a whole number, found %s", what,
                       wy_found (node, found, sizeof found));
        return false;
    }
    if (v < min) {
        wy_problem_at (ld, node, "%s must be >= %" PRId64 ", found %" PRId64, what, min, v);
        return false;
    }
    if (v > max) {
        wy_problem_at (ld, node, "%s must be <= %" PRId64 ", found %" PRId64, what, max, v);
        return false;
    }
    *value = v;
    return true;
}

/*  True when node is a list; otherwise records 'what must be a list'.  */
bool
wy_is_list (loader_t *ld, const node_t *node, const char *what)
{
    if (node->kind == NODE_LIST)
        return true;
    char found[64];
    if (node->kind == NODE_SCALAR && !wy_is_null (node))
        wy_problem_at (ld, node, "%s must be a list, found %s; write [%s]", what,
                       wy_found (node, found, sizeof found), node->text);
    else
        wy_problem_at (ld, node, "%s must be a list, found %s", what,
                       wy_found (node, found, sizeof found));
    return false;
}

/*  True when node is a mapping; otherwise records a problem.  */
bool
wy_is_map (loader_t *ld, const node_t *node, const char *what)
{
    if (node->kind == NODE_MAP)
        return true;
    char found[64];
    wy_problem_at (ld, node, "%s must be a mapping, found %s", what,
                   wy_found (node, found, sizeof found));
    return false;
}

/*  Checks an agency code against the known list; returns the arena copy
    or NULL after a problem.  */
const char *
wy_agency (loader_t *ld, const node_t *node, const char *where)
{
    char what[160];
    snprintf (what, sizeof what, "agency of %s", where);
    const char *agency = wy_text (ld, node, what);
    if (!agency)
        return NULL;
    if (ld->agencies) {
        for (size_t i = 0; i < ld->n_agencies; i++)
            if (strcmp (ld->agencies[i], agency) == 0)
                return agency;
        char hint[96];
        char shown[80];
        utf8_safe_copy (shown, sizeof shown, agency);
        wy_problem_at (
            ld, node, "unknown agency \"%s\" in %s%s", shown, where,
            wy_suggest (agency, ld->agencies, ld->n_agencies, hint, sizeof hint));
        return NULL;
    }
    if (!ident_agency_code_valid (agency)) {
        char shown[80];
        utf8_safe_copy (shown, sizeof shown, agency);
        wy_problem_at (ld, node,
                       "agency \"%s\" in %s is not an agency code "
                       "(1 to 32 characters of a-z, 0-9 and _)",
                       shown, where);
        return NULL;
    }
    return agency;
}

/*  Checks an event type (or task kind) against ident_event_type_valid.  */
const char *
wy_event_type (loader_t *ld, const node_t *node, const char *what)
{
    const char *type = wy_text (ld, node, what);
    if (!type)
        return NULL;
    char reason[256];
    if (!ident_event_type_valid (type, reason, sizeof reason)) {
        wy_problem_at (ld, node, "%s: %s", what, reason);
        return NULL;
    }
    return type;
}
