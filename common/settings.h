/*  settings: one declarative table of settings per program.

    Like pgbouncer, each daemon declares its settings once (name, type,
    where it lives, default, bounds, help). settings_load() applies the
    defaults, then the INI file given by --config (only the program's own
    [section]; other sections may share the file), then command-line flags
    --name VALUE, which override the file. --help prints the table. */
#ifndef ONENET_SETTINGS_H
#define ONENET_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { SET_STRING, SET_INT, SET_BOOL } setting_type_t;

typedef struct {
    const char *name;    /* key in the file (- or _), --name on the command line */
    setting_type_t type; /* how the value is parsed */
    size_t offset;       /* where it lives in the program's config struct */
    size_t size;         /* buffer size, for strings */
    const char *defval;  /* default, as text */
    int min, max;        /* bounds, for integers */
    const char *help;    /* one line for --help */
} setting_t;

/* Declares a table entry for field of struct type T. */
#define SETTING_FIELD(T, field) offsetof (T, field), sizeof (((T *) 0)->field)

typedef struct {
    const char *prog;        /* program name for messages: "onenet-hub" */
    const char *section;     /* INI section read: "hub" */
    const char *synopsis;    /* usage line after the program name */
    const char *description; /* paragraph for --help */
    const char *epilogue;    /* text after the settings in --help */
    const char *version;     /* printed by --version */
    const setting_t *table;  /* the settings */
    size_t n;                /* entries in table */
} settings_spec_t;

/* Fills config (a struct the table describes) from defaults, file, flags.
   Returns 0 to run, 1 when --help or --version was printed, 2 on a usage or
   config error (already reported on stderr, naming the file and line or
   the flag). */
int settings_load (const settings_spec_t *spec, void *config, int argc, char **argv);

#endif
