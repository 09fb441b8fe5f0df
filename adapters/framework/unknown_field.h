/*  unknown_field: the one rule for fields an agency record format does not
    define, the same for every agency mapping.

    Such a field is accepted and ignored: an agency system that exports
    one column more keeps running, and nothing it did not promise travels.
    So that a misspelt field ("unitNO" for "unitNo", "是否低押" for
    "是否抵押") does not go unnoticed, the first record of a run that
    carries a given unknown name logs a warning naming the agency and the
    field; later records with the same name stay quiet. A record that then
    lacks a required field is refused for that field, as always. */
#ifndef ONENET_UNKNOWN_FIELD_H
#define ONENET_UNKNOWN_FIELD_H

#include <jansson.h>
#include <stddef.h>

/* Looks at every member of record (a JSON object) that is not among the
   n_known names in known, and warns about each name not warned about
   before in this process. Returns how many names were warned about now.
   At most UNKNOWN_FIELD_MAX names are remembered; past that a last warning
   says so and further names are not warned about. */
size_t unknown_field_check (json_t *record, const char *const *known, size_t n_known,
                            const char *agency);

#define UNKNOWN_FIELD_MAX 256

#endif
