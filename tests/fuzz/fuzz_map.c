/*  fuzz_map: one record of an agency's own export format turned into a
    serialized case event by that agency's mapping (adapters/<agency>/map.c),
    encoded as the adapter encodes it (mapped_event_encode).
    Built once per agency as fuzz_map_<agency>, with FUZZ_AGENCY the agency
    code and FUZZ_MAP its adapter_map_fn. */
#include <stdlib.h>

#include "fuzz.h"
#include FUZZ_MAP_HEADER

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *line = fuzz_cstring (data, size);
    char event_id[37], err[512] = "";
    size_t len;
    uint8_t *bytes =
        mapped_event_encode (FUZZ_MAP, line, size, FUZZ_AGENCY, "fuzz-" FUZZ_AGENCY "-1",
                             1767225600000LL, NULL, 0, event_id, &len, err, sizeof err);
    if (!bytes && !*err)
        abort (); /* a refusal must say why */
    if (bytes)
        fuzz_check_adapter_event (bytes, len, FUZZ_AGENCY, event_id);
    free (bytes);
    free (line);
    return 0;
}
