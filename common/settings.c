/*  settings: declarative settings tables, see settings.h. */
#include "settings.h"

#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const setting_t *
find_setting (const settings_spec_t *spec, const char *name)
{
    for (size_t i = 0; i < spec->n; i++) {
        /* the file may spell names with _ or - */
        const char *a = spec->table[i].name, *b = name;
        while (*a && (*a == *b || (*a == '-' && *b == '_'))) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return &spec->table[i];
    }
    return NULL;
}

/* Sets one setting from text. Returns false with a reason in err. */
static bool
apply_setting (void *config, const setting_t *s, const char *value, char *err,
               size_t errlen)
{
    char *target = (char *) config + s->offset;
    switch (s->type) {
    case SET_STRING:
        if (strlen (value) >= s->size) {
            snprintf (err, errlen, "value of %s is longer than %zu bytes", s->name,
                      s->size - 1);
            return false;
        }
        strcpy (target, value);
        return true;
    case SET_INT: {
        char *end;
        long v = strtol (value, &end, 10);
        if (!*value || *end || v < s->min || v > s->max) {
            snprintf (err, errlen, "%s must be an integer from %d to %d, not \"%s\"",
                      s->name, s->min, s->max, value);
            return false;
        }
        *(int *) target = (int) v;
        return true;
    }
    case SET_BOOL:
        if (!strcmp (value, "true") || !strcmp (value, "yes") || !strcmp (value, "1")
            || !strcmp (value, "on"))
            *(bool *) target = true;
        else if (!strcmp (value, "false") || !strcmp (value, "no") || !strcmp (value, "0")
                 || !strcmp (value, "off"))
            *(bool *) target = false;
        else {
            snprintf (err, errlen, "%s must be true or false, not \"%s\"", s->name, value);
            return false;
        }
        return true;
    }
    return false;
}

typedef struct {
    const settings_spec_t *spec; /* what to read */
    void *config;                /* being filled */
    const char *path;            /* file being read, for messages */
    int errors;                  /* problems reported so far */
} file_ctx_t;

static int
on_ini_entry (void *user, const char *section, const char *name, const char *value)
{
    file_ctx_t *ctx = user;
    if (strcmp (section, ctx->spec->section) != 0)
        return 1; /* other programs' sections may share the file */
    const setting_t *s = find_setting (ctx->spec, name);
    char err[256];
    if (!s) {
        fprintf (stderr, "%s: %s: unknown setting \"%s\" in [%s]\n", ctx->spec->prog,
                 ctx->path, name, section);
        ctx->errors++;
    }
    else if (!apply_setting (ctx->config, s, value, err, sizeof err)) {
        fprintf (stderr, "%s: %s: %s\n", ctx->spec->prog, ctx->path, err);
        ctx->errors++;
    }
    return 1; /* keep going: report every problem at once */
}

static void
print_help (const settings_spec_t *spec)
{
    printf ("%s\n\nUsage: %s %s\n\n%s\n\nSettings (file: [%s] name = value; flags "
            "override the file):\n",
            spec->version, spec->prog, spec->synopsis, spec->description, spec->section);
    for (size_t i = 0; i < spec->n; i++) {
        const setting_t *s = &spec->table[i];
        char flag[64];
        snprintf (flag, sizeof flag, "--%s%s", s->name, s->type == SET_BOOL ? "" : " V");
        printf ("  %-26s %s", flag, s->help);
        if (*s->defval && s->type != SET_BOOL)
            printf (" [%s]", s->defval);
        printf ("\n");
    }
    printf ("  %-26s %s\n  %-26s %s\n  %-26s %s\n\n%s\n", "--config FILE",
            "read settings from FILE", "--help", "show this help", "--version",
            "show the version", spec->epilogue);
}

/* inih reads a line of at most INI_MAX_LINE - 2 bytes (plus its line feed)
   and takes the rest of a longer one for a line of its own, which would
   report a setting nobody wrote. Returns the first longer line's number,
   0 when there is none or the file cannot be read (ini_parse says so). */
static int
first_long_line (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return 0;
    int line = 1, found = 0;
    size_t len = 0;
    for (int c; !found && (c = getc (f)) != EOF;) {
        if (c == '\n') {
            line++;
            len = 0;
        }
        else if (++len > INI_MAX_LINE - 2)
            found = line;
    }
    fclose (f);
    return found;
}

int
settings_load (const settings_spec_t *spec, void *config, int argc, char **argv)
{
    char err[256];
    for (size_t i = 0; i < spec->n; i++)
        if (!apply_setting (config, &spec->table[i], spec->table[i].defval, err,
                            sizeof err)) {
            fprintf (stderr, "%s: bad built-in default: %s\n", spec->prog, err);
            return 2;
        }

    /* long options: one per setting, plus config/help/version */
    struct option *opts = calloc (spec->n + 4, sizeof *opts);
    if (!opts)
        abort ();
    for (size_t i = 0; i < spec->n; i++)
        opts[i] = (struct option){spec->table[i].name,
                                  spec->table[i].type == SET_BOOL ? no_argument
                                                                  : required_argument,
                                  NULL, 1000 + (int) i};
    opts[spec->n] = (struct option){"config", required_argument, NULL, 'c'};
    opts[spec->n + 1] = (struct option){"help", no_argument, NULL, 'h'};
    opts[spec->n + 2] = (struct option){"version", no_argument, NULL, 'V'};

    int rc = 0, c;
    /* pass 1: --config, --help, --version and unknown flags */
    const char *config_path = NULL;
    opterr = 0;
    optind = 0; /* 0, not 1: glibc then resets getopt's state fully */
    while (rc == 0 && (c = getopt_long (argc, argv, "c:hV", opts, NULL)) != -1) {
        if (c == 'c')
            config_path = optarg;
        else if (c == 'h') {
            print_help (spec);
            rc = 1;
        }
        else if (c == 'V') {
            printf ("%s\n", spec->version);
            rc = 1;
        }
    }
    if (rc == 0 && config_path) {
        file_ctx_t ctx = {spec, config, config_path, 0};
        int long_line = first_long_line (config_path);
        int line = long_line ? 0 : ini_parse (config_path, on_ini_entry, &ctx);
        if (long_line) {
            fprintf (stderr, "%s: %s:%d: line longer than %d bytes\n", spec->prog,
                     config_path, long_line, INI_MAX_LINE - 2);
            rc = 2;
        }
        else if (line < 0) {
            fprintf (stderr, "%s: could not read config file \"%s\"\n", spec->prog,
                     config_path);
            rc = 2;
        }
        else if (line > 0) {
            fprintf (stderr,
                     "%s: %s:%d: syntax error (expected \"name = value\" or "
                     "\"[section]\")\n",
                     spec->prog, config_path, line);
            rc = 2;
        }
        else if (ctx.errors)
            rc = 2;
    }
    /* pass 2: flags override the file */
    opterr = 1;
    optind = 0;
    while (rc == 0 && (c = getopt_long (argc, argv, "c:hV", opts, NULL)) != -1) {
        if (c >= 1000) {
            const setting_t *s = &spec->table[c - 1000];
            if (!apply_setting (config, s, s->type == SET_BOOL ? "true" : optarg, err,
                                sizeof err)) {
                fprintf (stderr, "%s: %s\nTry \"%s --help\".\n", spec->prog, err,
                         spec->prog);
                rc = 2;
            }
        }
        else if (c == '?') {
            fprintf (stderr, "Try \"%s --help\".\n", spec->prog);
            rc = 2;
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf (stderr, "%s: unexpected argument \"%s\"\nTry \"%s --help\".\n", spec->prog,
                 argv[optind], spec->prog);
        rc = 2;
    }
    free (opts);
    return rc;
}
