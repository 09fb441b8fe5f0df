/*  unit.h - scaffolding shared by the C unit tests (tests/unit/test_*.c)

    Every test is a standalone program: each failing case is printed with
    its file and line, a summary closes the run, and the exit status is 1
    when any case failed. A test defines UNIT_NAME (its program name, as in
    "test_clock") and then includes this header once. It gets:

    - the case counters, s_check and the CHECK, CHECK_MSG, STREQ macros,
    - s_summary, which prints "<UNIT_NAME>: N passed, M failed" and gives
      the exit status,
    - the repository's data paths, through ONENET_SOURCE_DIR,
    - Beijing local times: s_bj, s_format_bj and CHECK_AT,
    - temporary directories and files: s_tmpdir_new, s_file_write,
      s_files_remove, s_tmpdir_remove.

    Everything here is static, so each test has its own copy; the helpers
    keep the s_ prefix of file-local functions.
*/

#ifndef ONENET_UNIT_H
#define ONENET_UNIT_H

#ifndef UNIT_NAME
#error "define UNIT_NAME (the test's program name) before including unit.h"
#endif

#ifndef ONENET_SOURCE_DIR
#error "build with -DONENET_SOURCE_DIR=\"<repository root>\""
#endif

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

//  --------------------------------------------------------------------------
//  Cases and the summary

static int s_passed; //  cases that held
static int s_failed; //  cases that did not

/*  Counts one case; prints it with its location when it failed.  */
static inline void
s_check (bool ok, const char *what, const char *detail, const char *file, int line)
{
    if (ok) {
        s_passed++;
        return;
    }
    s_failed++;
    fprintf (stderr, "%s:%d: FAILED: %s%s%s\n", file, line, what,
             detail && *detail ? " -- " : "", detail ? detail : "");
}

#define CHECK(cond)          s_check ((cond), #cond, NULL, __FILE__, __LINE__)
#define CHECK_MSG(cond, msg) s_check ((cond), #cond, (msg), __FILE__, __LINE__)
#define STREQ(a, b)          (strcmp ((a), (b)) == 0)

/*  Prints the summary line of the run; returns the exit status, 1 when any
    case failed.  */
static inline int
s_summary (void)
{
    printf ("%s: %d passed, %d failed\n", UNIT_NAME, s_passed, s_failed);
    return s_failed ? 1 : 0;
}

//  --------------------------------------------------------------------------
//  Repository data

#define UNIT_WORKFLOW_DIR ONENET_SOURCE_DIR "/workflows"
#define UNIT_CALENDAR_CSV ONENET_SOURCE_DIR "/data/calendar/cn-workdays.csv"

//  --------------------------------------------------------------------------
//  Beijing local times (UTC+8, no daylight saving), converted with
//  clock.c, not with the calendar's own date arithmetic

#define UNIT_BJ_OFFSET_MS (8 * 3600 * INT64_C (1000))

/*  The instant of a Beijing local time "YYYY-MM-DD HH:MM[:SS[.mmm]]"; ends
    the run with status 2 when the text is not such a time.  */
static inline int64_t
s_bj (const char *local)
{
    char text[64];
    snprintf (text, sizeof text, "%s%s+08:00", local, strlen (local) == 16 ? ":00" : "");
    int64_t ms = 0;
    if (!clock_parse_rfc3339 (text, &ms)) {
        fprintf (stderr, "%s: bad time in the test: \"%s\"\n", UNIT_NAME, local);
        exit (2);
    }
    return ms;
}

/*  Writes an instant as Beijing local time ("0" for 0), for failure
    messages.  */
static inline void
s_format_bj (int64_t ms, char *buf, size_t size)
{
    if (ms == 0) {
        snprintf (buf, size, "0");
        return;
    }
    char utc[40];
    clock_format_utc (ms + UNIT_BJ_OFFSET_MS, utc, sizeof utc);
    utc[strlen (utc) - 1] = '\0'; //  drop the Z: it is local time now
    snprintf (buf, size, "%s+08", utc);
}

/*  Counts one case: the instant got is the Beijing local time want (NULL:
    the instant 0).  */
static inline void
s_check_at (int64_t got, const char *want, const char *expr, const char *file, int line)
{
    char what[300];
    char detail[80];
    char shown[48];
    snprintf (what, sizeof what, "%s == %s (Beijing)", expr, want ? want : "0");
    s_format_bj (got, shown, sizeof shown);
    snprintf (detail, sizeof detail, "got %s", shown);
    s_check (got == (want ? s_bj (want) : 0), what, detail, file, line);
}

/*  Checks that an instant is the Beijing local time want (NULL: 0).  */
#define CHECK_AT(got, want) s_check_at ((got), (want), #got, __FILE__, __LINE__)

//  --------------------------------------------------------------------------
//  Temporary directories and files

/*  Creates a fresh directory from template (a path ending in XXXXXX) and
    writes its path into dir. Returns false, after perror, when it cannot.  */
static inline bool
s_tmpdir_new (char *dir, size_t size, const char *template)
{
    snprintf (dir, size, "%s", template);
    if (!mkdtemp (dir)) {
        perror ("mkdtemp");
        return false;
    }
    return true;
}

/*  Writes text as the file dir/name, replacing it, and its path into path.
    Returns false (errno set) when the file could not be written.  */
static inline bool
s_file_write (const char *dir, const char *name, const char *text, char *path, size_t size)
{
    snprintf (path, size, "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    if (!file)
        return false;
    size_t len = strlen (text);
    bool ok = fwrite (text, 1, len, file) == len;
    if (fclose (file) != 0)
        ok = false;
    return ok;
}

/*  Removes the files dir/names[0] .. dir/names[n - 1]; missing files are
    ignored.  */
static inline void
s_files_remove (const char *dir, const char *const *names, size_t n)
{
    char path[256];
    for (size_t i = 0; i < n; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, names[i]);
        unlink (path);
    }
}

/*  Removes the files named in dir, then dir itself.  */
static inline void
s_tmpdir_remove (const char *dir, const char *const *names, size_t n)
{
    s_files_remove (dir, names, n);
    rmdir (dir);
}

#endif
