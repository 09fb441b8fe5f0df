/*  unknown_field: one warning per unknown field name, see unknown_field.h. */
#include "unknown_field.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static char *s_seen[UNKNOWN_FIELD_MAX]; /* names warned about (one adapter, one thread) */
static size_t s_n_seen;                 /* entries in s_seen */
static bool s_full_warned;              /* the "too many names" warning was given */

size_t
unknown_field_check (json_t *record, const char *const *known, size_t n_known,
                     const char *agency)
{
    size_t warned = 0;
    const char *name;
    json_t *value;
    json_object_foreach (record, name, value)
    {
        bool is_known = false;
        for (size_t i = 0; i < n_known && !is_known; i++)
            is_known = strcmp (name, known[i]) == 0;
        for (size_t i = 0; i < s_n_seen && !is_known; i++)
            is_known = strcmp (name, s_seen[i]) == 0;
        if (is_known)
            continue;
        if (s_n_seen == UNKNOWN_FIELD_MAX) {
            if (!s_full_warned)
                log_warn ("more unknown fields in agency records than are listed, "
                          "further names not reported",
                          "agency=%s listed=%d", log_q (agency), UNKNOWN_FIELD_MAX);
            s_full_warned = true;
            continue;
        }
        s_seen[s_n_seen] = strdup (name);
        if (!s_seen[s_n_seen])
            abort ();
        s_n_seen++;
        warned++;
        /* at most 80 bytes of the name, cut between characters */
        size_t shown = strlen (name);
        if (shown > 80) {
            shown = 80;
            while (shown > 0 && ((unsigned char) name[shown] & 0xC0) == 0x80)
                shown--;
        }
        log_warn ("unknown field in agency records, ignored (reported once per run)",
                  "agency=%s field=%s", log_q (agency), log_qn (name, shown));
    }
    return warned;
}
