/*  test_event_row.c - unit tests for hub/event_row.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. An event whose texts hold every byte COPY escapes (tab,
    newline, carriage return, backslash) is written as a row and every
    field read back: each must come back as it went in, the row must have
    one field per column of EVENT_ROW_COLUMNS and end in one newline, and
    a missing acceptance time must be written as NULL (\N).
*/

#include "event_row.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define UNIT_NAME "test_event_row"
#include "unit.h"

static void
s_test_round_trip (void)
{
    digest_event_t e = {"0b9f6c1e-5a4d-4c3b-9a2e-1f0e2d3c4b5a",
                        "land",
                        "land-01\tA",
                        "彭不动产受〔2020〕第000585号\n\\x",
                        "transfer.accepted",
                        "2020-09-28 09:00:00+08",
                        NULL,
                        "2020-09-28 09:00:01.5+08",
                        "1",
                        "{\"unit_number\":\"640425001001GB00001F00010001\"}",
                        "{\"note\":\"a\\tb\\r\\nc\"}",
                        "hub \"1\"\r"};
    const char *want[EVENT_ROW_FIELDS] = {
        e.event_id,    e.agency, e.adapter_id,     e.case_no, e.event_type, e.occurred_at,
        "\\N" /* as it is in the row */, e.received_at, e.schema_version, e.keys,
        e.attrs,       e.hub_id};
    strbuf_t row, out;
    strbuf_init (&row);
    strbuf_init (&out);
    event_row_append (&row, &e);
    const char *end = row.data + row.len;
    CHECK (row.len > 0 && row.data[row.len - 1] == '\n');
    CHECK (memchr (row.data, '\n', row.len) == end - 1); /* one line */
    int tabs = 0, commas = 0;
    for (size_t i = 0; i < row.len; i++)
        tabs += row.data[i] == '\t';
    for (const char *c = EVENT_ROW_COLUMNS; *c; c++)
        commas += *c == ',';
    CHECK (tabs == EVENT_ROW_FIELDS - 1);
    CHECK (commas == EVENT_ROW_FIELDS - 1);
    for (int i = 0; i < EVENT_ROW_FIELDS; i++) {
        strbuf_reset (&out);
        event_row_field (row.data, end, (event_row_field_t) i, &out);
        if (i == EVENT_ROW_ACCEPTED_AT) {
            /* \N unescaped reads as N: the row holds the NULL marker */
            CHECK (strstr (row.data, "\t\\N\t") != NULL);
            continue;
        }
        CHECK_MSG (out.data && STREQ (out.data, want[i]), want[i]);
    }
    strbuf_free (&row);
    strbuf_free (&out);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_round_trip ();
    return s_summary ();
}
