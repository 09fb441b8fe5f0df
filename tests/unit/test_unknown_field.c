/*  test_unknown_field.c - unit tests for adapters/framework/unknown_field.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Each unknown field name is reported once per run, known names
    never, and the list of names is bounded.
*/

#include "unknown_field.h"

#include <stdio.h>

#define UNIT_NAME "test_unknown_field"
#include "unit.h"

static const char *const s_known[] = {"appNo", "step"};

static size_t
s_check_line (const char *line)
{
    json_t *root = json_loads (line, 0, NULL);
    if (!root) {
        fprintf (stderr, "%s: bad JSON in the test: %s\n", UNIT_NAME, line);
        exit (2);
    }
    size_t n = unknown_field_check (root, s_known, 2, "power");
    json_decref (root);
    return n;
}

int
main (void)
{
    CHECK (s_check_line ("{\"appNo\": \"A\", \"step\": \"DONE\"}") == 0);
    CHECK (s_check_line ("{\"appNo\": \"A\", \"unitNO\": \"x\", \"备注\": 1}") == 2);
    //  the same names again: already reported
    CHECK (s_check_line ("{\"unitNO\": \"y\", \"备注\": null, \"step\": \"DONE\"}") == 0);
    CHECK (s_check_line ("{\"unitNO\": \"y\", \"custName\": \"马建国\"}") == 1);
    //  names are exact: case matters
    CHECK (s_check_line ("{\"UNITNO\": \"y\"}") == 1);
    //  a bounded list: past UNKNOWN_FIELD_MAX names nothing more is kept
    size_t total = 4;
    for (int i = 0; i < UNKNOWN_FIELD_MAX + 10; i++) {
        char line[64];
        snprintf (line, sizeof line, "{\"extra%d\": 1}", i);
        total += s_check_line (line);
    }
    CHECK (total == UNKNOWN_FIELD_MAX);
    CHECK (s_check_line ("{\"appNo\": \"A\"}") == 0);
    return s_summary ();
}
