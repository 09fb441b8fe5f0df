/*  hubctl workflows --vocabulary: every event type each agency may send,
    and what it does in each workflow. From a running hub (its control
    socket answers "vocabulary", built from the definitions it loaded and
    its extra-event-types) or, with --dir or --hub-config, from definitions
    on disk loaded as a hub would load them. Either way the hub's own code
    (vocabulary.h) derives it from the definitions: never a hand-kept
    list. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_config.h"
#include "hubctl.h"
#include "strbuf.h"
#include "vocabulary.h"
#include "workflow_def.h"

static void
usage (void)
{
    printf (
        "Usage: hubctl workflows --vocabulary [--markdown] [--control ENDPOINT]\n"
        "                        [--timeout S]\n"
        "       hubctl workflows --vocabulary [--markdown] [--dir DIR]\n"
        "                        [--hub-config FILE]\n\n"
        "Lists, per agency, every event type the hub accepts from it and, for each,\n"
        "what it does in each workflow: starts an instance, completes a step,\n"
        "rejects, reopens, cancels (with the condition, when there is one). Types\n"
        "listed in the hub's extra-event-types are stored but may do nothing; an\n"
        "agency with no types has every event refused. Sorted by agency, then event\n"
        "type.\n"
        "  (default)     ask the running hub (its control socket): exactly what it\n"
        "                accepts now, with its own definitions and settings\n"
        "  --control ENDPOINT  the hub's 'control' setting (default %s,\n"
        "                or $ONENET_HUB_CONTROL); --timeout S to wait (default 3)\n"
        "  --dir DIR     instead, load the definitions in DIR as a hub would, with the\n"
        "                hub's default agencies and no extra-event-types (or those of\n"
        "                --hub-config): what a hub started so would accept\n"
        "  --hub-config FILE  take workflows, agencies and extra-event-types from the\n"
        "                [hub] section of the hub's config file (--dir wins for the\n"
        "                definitions)\n"
        "  --markdown    a Markdown table per agency (as in docs/vocabulary.md)\n"
        "With 'hubctl --json workflows --vocabulary', the JSON the hub answers:\n"
        "{\"agencies\": [{\"agency\", \"event_types\": [{\"event_type\", \"extra\",\n"
        "\"uses\": [{\"workflow\", \"version\", \"role\", \"step\", \"title\",\n"
        "\"effect\", \"when\"}]}]}]}.\n",
        HUBCTL_DEFAULT_CONTROL);
}

/* Loads the definitions as onenet-hub would with --config FILE and
   --workflows DIR (either may be NULL) and appends their vocabulary to out.
   False after saying why on stderr. */
static bool
vocabulary_from_disk (const char *dir, const char *hub_config, strbuf_t *out)
{
    char *argv[6];
    int argc = 0;
    argv[argc++] = (char *) "onenet-hub";
    if (hub_config) {
        argv[argc++] = (char *) "--config";
        argv[argc++] = (char *) hub_config;
    }
    if (dir) {
        argv[argc++] = (char *) "--workflows";
        argv[argc++] = (char *) dir;
    }
    argv[argc] = NULL;
    static hub_config_t config;
    if (hub_config_load (&config, argc, argv) != 0) {
        fprintf (stderr, "hubctl workflows: the hub settings%s%s are not valid (above)\n",
                 hub_config ? " of " : "", hub_config ? hub_config : "");
        return false;
    }
    static char problems[65536];
    workflow_set_t *set = hub_config_load_workflows (&config, NULL, problems, sizeof problems);
    if (!set) {
        fprintf (stderr,
                 "hubctl workflows: cannot load the workflow definitions in %s (a hub "
                 "would refuse to start):\n%s\n",
                 config.workflows, problems);
        return false;
    }
    vocabulary_json (&config, set, out);
    workflow_set_destroy (&set);
    return true;
}

static const char *
text_of (json_t *obj, const char *name)
{
    return json_string_value (json_object_get (obj, name));
}

/* What one use does, for people: "starts an instance", "completes step
   registered (转移登记)", "rejects (suspends the instance)" ..., with
   " if CONDITION" when it has one. In Markdown, names are code. */
static void
use_text (json_t *use, bool markdown, strbuf_t *out)
{
    const char *role = text_of (use, "role"), *q = markdown ? "`" : "";
    if (!role)
        role = "";
    if (!strcmp (role, "start"))
        strbuf_puts (out, "starts an instance");
    else if (!strcmp (role, "step")) {
        strbuf_printf (out, "completes step %s%s%s", q, text_of (use, "step"), q);
        if (text_of (use, "title"))
            strbuf_printf (out, " (%s)", text_of (use, "title"));
    }
    else if (!strcmp (role, "reject")) {
        const char *effect = text_of (use, "effect");
        strbuf_puts (out, effect && !strcmp (effect, "suspend")
                              ? "rejects (suspends the instance until it is reopened)"
                              : "rejects (ends the instance)");
    }
    else if (!strcmp (role, "reopen"))
        strbuf_puts (out, "reopens a suspended instance");
    else if (!strcmp (role, "cancel"))
        strbuf_puts (out, "cancels the instance");
    else
        strbuf_printf (out, "%s", role);
    if (text_of (use, "when"))
        strbuf_printf (out, " if %s%s%s", q, text_of (use, "when"), q);
}

/* One line of the listing: the agency's event type in one workflow (or in
   none), and what it does there. */
typedef struct {
    const char *agency, *event_type, *workflow; /* workflow NULL: none */
    char *what;                                 /* malloc'd */
} row_t;

typedef struct {
    row_t *rows;
    size_t n, cap;
} rows_t;

static void
add_row (rows_t *rows, const char *agency, const char *event_type, const char *workflow,
         const char *what)
{
    if (rows->n == rows->cap) {
        rows->cap = rows->cap ? rows->cap * 2 : 64;
        rows->rows = realloc (rows->rows, rows->cap * sizeof *rows->rows);
        if (!rows->rows)
            abort ();
    }
    char *copy = strdup (what);
    if (!copy)
        abort ();
    rows->rows[rows->n++] = (row_t){agency, event_type, workflow, copy};
}

/* The listing's rows: per agency and event type, one per workflow with
   its uses joined by "; ", one for a type only extra-event-types lists,
   and one for an agency with no types. */
static void
build_rows (json_t *agencies, bool markdown, rows_t *rows)
{
    strbuf_t what;
    strbuf_init (&what);
    size_t a, t, u;
    json_t *agency, *type, *use;
    json_array_foreach (agencies, a, agency) {
        const char *code = text_of (agency, "agency");
        json_t *types = json_object_get (agency, "event_types");
        if (json_array_size (types) == 0)
            add_row (rows, code, NULL, NULL, "none: every event of this agency is refused");
        json_array_foreach (types, t, type) {
            const char *name = text_of (type, "event_type"), *workflow = NULL;
            json_t *uses = json_object_get (type, "uses");
            strbuf_reset (&what);
            json_array_foreach (uses, u, use) {
                const char *w = text_of (use, "workflow");
                if (workflow && strcmp (w, workflow) != 0) {
                    add_row (rows, code, name, workflow, what.data);
                    strbuf_reset (&what);
                }
                if (what.len)
                    strbuf_puts (&what, "; ");
                use_text (use, markdown, &what);
                workflow = w;
            }
            if (workflow)
                add_row (rows, code, name, workflow, what.data);
            if (json_is_true (json_object_get (type, "extra")))
                add_row (rows, code, name, NULL,
                         json_array_size (uses)
                             ? "also listed in the hub's extra-event-types"
                             : "stored (listed in the hub's extra-event-types); no "
                               "workflow uses it");
        }
    }
    strbuf_free (&what);
}

static void
print_markdown (const rows_t *rows)
{
    const char *agency = NULL, *type = NULL;
    for (size_t i = 0; i < rows->n; i++) {
        const row_t *r = &rows->rows[i];
        if (!agency || strcmp (agency, r->agency) != 0) {
            printf ("%s### `%s`\n\n", agency ? "\n" : "", r->agency);
            if (!r->event_type) {
                printf ("None: every event of this agency is refused.\n");
                agency = r->agency;
                continue;
            }
            printf ("| event type | workflow | what it does there |\n|---|---|---|\n");
            type = NULL;
        }
        agency = r->agency;
        bool same = type && !strcmp (type, r->event_type);
        type = r->event_type;
        printf ("| %s%s%s | ", same ? "" : "`", same ? "" : r->event_type, same ? "" : "`");
        printf (r->workflow ? "`%s`" : "%s", r->workflow ? r->workflow : "-");
        /* a cell holds no |: no identifier can, and a title is escaped */
        fputs (" | ", stdout);
        for (const char *p = r->what; *p; p++) {
            if (*p == '|')
                putchar ('\\');
            putchar (*p);
        }
        fputs (" |\n", stdout);
    }
}

static void
print_table (const rows_t *rows)
{
    static const char *const header[] = {"agency", "event_type", "workflow", "what"};
    const char **cells = calloc (rows->n * 4 + 1, sizeof *cells);
    if (!cells)
        abort ();
    for (size_t i = 0; i < rows->n; i++) {
        cells[i * 4] = rows->rows[i].agency;
        cells[i * 4 + 1] = rows->rows[i].event_type;
        cells[i * 4 + 2] = rows->rows[i].workflow;
        cells[i * 4 + 3] = rows->rows[i].what;
    }
    hubctl_print_table (header, 4, cells, (int) rows->n);
    free (cells);
}

int
cmd_workflows_vocabulary (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"vocabulary", no_argument, NULL, 'v'},
                                   {"markdown", no_argument, NULL, 'm'},
                                   {"dir", required_argument, NULL, 'd'},
                                   {"hub-config", required_argument, NULL, 'c'},
                                   {"control", required_argument, NULL, 'C'},
                                   {"timeout", required_argument, NULL, 't'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *dir = NULL, *hub_config = NULL;
    const char *control = options->control ? options->control : HUBCTL_DEFAULT_CONTROL;
    bool markdown = false, asked_hub = false;
    int timeout_ms = 3000, c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'v': break;
        case 'm': markdown = true; break;
        case 'd': dir = optarg; break;
        case 'c': hub_config = optarg; break;
        case 'C':
            control = optarg;
            asked_hub = true;
            break;
        case 't':
            if (!hubctl_count_arg (optarg))
                return hubctl_usage_error ("workflows", "--timeout must be a positive "
                                                        "number of seconds");
            timeout_ms = atoi (optarg) * 1000;
            asked_hub = true;
            break;
        case 'h': usage (); return HUBCTL_OK;
        default:
            fprintf (stderr, "Try 'hubctl workflows --help'.\n");
            return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("workflows", "unexpected argument '%s'", argv[optind]);
    if (asked_hub && (dir || hub_config))
        return hubctl_usage_error ("workflows",
                                   "--control and --timeout ask a running hub; --dir and "
                                   "--hub-config read definitions on disk: not both");
    if (markdown && options->json)
        return hubctl_usage_error ("workflows", "--markdown or --json, not both");

    strbuf_t answer;
    strbuf_init (&answer);
    if (dir || hub_config) {
        if (!vocabulary_from_disk (dir, hub_config, &answer)) {
            strbuf_free (&answer);
            return HUBCTL_FAILURE;
        }
    }
    else {
        char err[1024];
        char *text =
            hubctl_ask_hub (options, control, "vocabulary", timeout_ms, err, sizeof err);
        if (!text) {
            fprintf (stderr,
                     "hubctl workflows: %s; is it running with 'control = %s' (or "
                     "--control)? Without a hub, list the definitions in a directory "
                     "with --dir.\n",
                     err, control);
            strbuf_free (&answer);
            return HUBCTL_FAILURE;
        }
        strbuf_puts (&answer, text);
        free (text);
    }
    json_error_t jerr;
    json_t *vocabulary = json_loads (answer.data, 0, &jerr);
    json_t *agencies = json_object_get (vocabulary, "agencies");
    if (!json_is_array (agencies)) {
        const char *error = text_of (vocabulary, "error");
        fprintf (stderr, "hubctl workflows: the hub answered: %s%s\n",
                 error ? error : answer.data,
                 error && strstr (error, "unknown request")
                     ? " (a hub older than this hubctl: list its definitions with --dir)"
                     : "");
        json_decref (vocabulary);
        strbuf_free (&answer);
        return HUBCTL_FAILURE;
    }
    if (options->json) {
        json_dumpf (vocabulary, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
    }
    else {
        rows_t rows = {NULL, 0, 0};
        build_rows (agencies, markdown, &rows);
        if (markdown)
            print_markdown (&rows);
        else
            print_table (&rows);
        for (size_t i = 0; i < rows.n; i++)
            free (rows.rows[i].what);
        free (rows.rows);
    }
    json_decref (vocabulary);
    strbuf_free (&answer);
    return HUBCTL_OK;
}
