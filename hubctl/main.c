/*  hubctl: the onenet operators' tool. See hubctl.h for the conventions and
    docs/operations.md for the commands in use. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "hubctl.h"

/* Settings read from a config file's [hubctl] section (flags win). */
typedef struct {
    char db[1024];             /* db = CONNINFO */
    char control[256];         /* control = ENDPOINT */
    char hub[256];             /* hub = ENDPOINT */
    char secret_key[512];      /* secret-key = FILE (the operator's key pair) */
    char hub_public_key[64];   /* hub-public-key = Z85 */
    char authorised_keys[512]; /* authorised-keys = FILE (hubctl keys) */
    const char *path;          /* the file, for messages */
    int errors;                /* problems found */
} file_settings_t;

static int
on_ini (void *user, const char *section, const char *name, const char *value)
{
    file_settings_t *f = user;
    if (strcmp (section, "hubctl") != 0)
        return 1; /* the hub's and adapters' sections may share the file */
    struct {
        const char *name; /* in the file */
        char *target;     /* where it goes */
        size_t size;      /* its buffer */
    } known[] = {{"db", f->db, sizeof f->db},
                 {"control", f->control, sizeof f->control},
                 {"hub", f->hub, sizeof f->hub},
                 {"secret-key", f->secret_key, sizeof f->secret_key},
                 {"hub-public-key", f->hub_public_key, sizeof f->hub_public_key},
                 {"authorised-keys", f->authorised_keys, sizeof f->authorised_keys}};
    size_t i = 0;
    while (i < sizeof known / sizeof *known && strcmp (known[i].name, name) != 0)
        i++;
    if (i == sizeof known / sizeof *known) {
        fprintf (stderr,
                 "hubctl: %s: unknown setting \"%s\" in [hubctl] (db, control, hub, "
                 "secret-key, hub-public-key, authorised-keys)\n",
                 f->path, name);
        f->errors++;
    }
    else if (strlen (value) >= known[i].size) {
        fprintf (stderr, "hubctl: %s: %s is longer than %zu bytes\n", f->path, name,
                 known[i].size - 1);
        f->errors++;
    }
    else
        snprintf (known[i].target, known[i].size, "%s", value);
    return 1;
}

static const hubctl_command_t commands[] = {
    {"status", cmd_status, "is the hub up: events/s, commit latency, adapters, backlog"},
    {"metrics", cmd_metrics, "the hub's counters and latency histogram (Prometheus text)"},
    {"workflows", cmd_workflows,
     "list workflow instances; --vocabulary: what each agency may send"},
    {"show", cmd_show, "one case as a timeline: steps, deadlines, events"},
    {"overdue", cmd_overdue, "the supervision list (督办): late steps, worst first"},
    {"deadletters", cmd_deadletters, "events the hub refused, with their reasons"},
    {"rejects", cmd_rejects, "records the agencies' adapters refused (their quarantines)"},
    {"replay", cmd_replay, "hand refused or set-aside events to the hub again"},
    {"unmatched", cmd_unmatched, "parked and expired events no workflow took"},
    {"tasks", cmd_tasks, "tasks per agency, and how far each adapter has taken them"},
    {"adapters", cmd_adapters, "agency links: last heartbeat and backlog"},
    {"hubs", cmd_hubs, "every hub on this database: connected, storing, backlog"},
    {"calendar", cmd_calendar, "show a month of working days; add or override a day"},
    {"migrate", cmd_migrate, "apply the schema migrations this hubctl carries"},
    {"report", cmd_report, "the monthly supervision report as a self-contained HTML page"},
    {"keys", cmd_keys, "CURVE keys: generate, add, list, retire (rotation), reload"},
    {"verify", cmd_verify, "check the events' hash chains: nothing changed, removed, inserted"},
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static void
print_help (void)
{
    printf ("hubctl: look after an onenet hub and its database\n\n"
            "Usage: hubctl [--db CONNINFO] [--json] COMMAND [ARGS]\n\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf ("  %-12s %s\n", commands[i].name, commands[i].summary);
    printf ("\nOptions:\n"
            "  --db CONNINFO          the onenet database (default: $ONENET_DB, else PG*\n"
            "                         variables)\n"
            "  --json                 print JSON for scripts instead of tables\n"
            "  --secret-key FILE      the operator's CURVE key pair file, for the hub's\n"
            "                         sockets (default: $ONENET_SECRET_KEY)\n"
            "  --hub-public-key KEY   the hub's CURVE public key, Z85 (default:\n"
            "                         $ONENET_HUB_PUBLIC_KEY); without both: plaintext,\n"
            "                         to loopback only\n"
            "  --config FILE          read db, control, hub, secret-key, hub-public-key\n"
            "                         and authorised-keys from FILE's [hubctl] section\n"
            "  --help                 this help; 'hubctl COMMAND --help' for a command\n\n"
            "Exit status: 0 done, 1 failure, 2 usage error.\n");
}

int
main (int argc, char **argv)
{
    setlocale (LC_CTYPE, "C.UTF-8"); /* display widths of Chinese text */
    hubctl_options_t options = {getenv ("ONENET_DB") ? getenv ("ONENET_DB") : "",
                                getenv ("ONENET_HUB_CONTROL"),
                                getenv ("ONENET_HUB"),
                                false,
                                NULL,
                                NULL,
                                NULL};
    static file_settings_t file;
    options.secret_key = getenv ("ONENET_SECRET_KEY");
    options.hub_public_key = getenv ("ONENET_HUB_PUBLIC_KEY");
    options.authorised_keys = getenv ("ONENET_AUTHORISED_KEYS");
    const char *flag_db = NULL, *flag_secret = NULL, *flag_hub_key = NULL;
    static struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                   {"config", required_argument, NULL, 'c'},
                                   {"json", no_argument, NULL, 'j'},
                                   {"secret-key", required_argument, NULL, 's'},
                                   {"hub-public-key", required_argument, NULL, 'k'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    int c;
    /* "+": stop at the command; its own options follow it */
    while ((c = getopt_long (argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': flag_db = optarg; break;
        case 's': flag_secret = optarg; break;
        case 'k': flag_hub_key = optarg; break;
        case 'c': {
            file.path = optarg;
            int line = ini_parse (optarg, on_ini, &file);
            if (line != 0 || file.errors) {
                if (line < 0)
                    fprintf (stderr, "hubctl: could not read config file \"%s\"\n", optarg);
                else if (line > 0)
                    fprintf (stderr, "hubctl: %s:%d: syntax error\n", optarg, line);
                return HUBCTL_USAGE;
            }
            if (*file.db)
                options.db = file.db;
            if (*file.control)
                options.control = file.control;
            if (*file.hub)
                options.hub = file.hub;
            if (*file.secret_key)
                options.secret_key = file.secret_key;
            if (*file.hub_public_key)
                options.hub_public_key = file.hub_public_key;
            if (*file.authorised_keys)
                options.authorised_keys = file.authorised_keys;
            break;
        }
        case 'j': options.json = true; break;
        case 'h': print_help (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (flag_db)
        options.db = flag_db; /* the flag wins over the file */
    if (flag_secret)
        options.secret_key = flag_secret;
    if (flag_hub_key)
        options.hub_public_key = flag_hub_key;
    if (optind >= argc) {
        fprintf (stderr, "hubctl: which command? Try 'hubctl --help'.\n");
        return HUBCTL_USAGE;
    }
    int at = optind;
    const char *name = argv[at];
    /* --json may also follow the command ('hubctl show 110 --json'): taken
       out here, before the command reads its own options (not after "--") */
    int kept = at + 1;
    for (int i = at + 1; i < argc; i++) {
        if (strcmp (argv[i], "--") == 0) {
            while (i < argc)
                argv[kept++] = argv[i++];
            break;
        }
        if (strcmp (argv[i], "--json") == 0)
            options.json = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    argv[argc] = NULL;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp (commands[i].name, name) == 0) {
            optind = 0; /* each command parses its own arguments with getopt */
            return commands[i].run (&options, argc - at, argv + at);
        }
    fprintf (stderr, "hubctl: '%s' is not a command. Try 'hubctl --help'.\n", name);
    return HUBCTL_USAGE;
}
