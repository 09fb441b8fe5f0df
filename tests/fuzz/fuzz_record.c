/*  fuzz_record: one line of the generic adapter's NDJSON input
    (adapters/framework/record.c) turned into a serialized case event. */
#include <stdlib.h>

#include "fuzz.h"
#include "record.h"

#define FUZZ_AGENCY "land"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *line = fuzz_cstring (data, size);
    char event_id[37], err[512] = "";
    size_t len;
    uint8_t *bytes =
        mapped_event_encode (record_parse_ndjson, line, size, FUZZ_AGENCY, "fuzz-land-1",
                             1767225600000LL, NULL, 0, event_id, &len, err, sizeof err);
    if (!bytes && !*err)
        abort (); /* a refusal must say why */
    if (bytes)
        fuzz_check_adapter_event (bytes, len, FUZZ_AGENCY, event_id);
    free (bytes);
    free (line);
    return 0;
}
