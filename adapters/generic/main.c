/*  onenet-adapter: the generic adapter. Reads case records in the generic
    NDJSON format (adapters/framework/record.h, docs/adapters/generic.md)
    from stdin or a spool directory and delivers them to the hub. */
#include "adapter.h"
#include "record.h"

int
main (int argc, char **argv)
{
    return adapter_main (
        argc, argv, "onenet-adapter", NULL,
        "Delivers an agency's case records (generic NDJSON, one JSON object per line)\n"
        "to the onenet hub, from stdin or from a spool directory.",
        record_parse_ndjson);
}
