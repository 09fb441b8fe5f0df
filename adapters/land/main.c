/*  onenet-adapter-land: the land registry's adapter. Reads the registry's
    own NDJSON export (adapters/land/map.h, docs/adapters/land.md) from
    stdin or a spool directory and delivers it to the hub. */
#include "adapter.h"
#include "map.h"

int
main (int argc, char **argv)
{
    return adapter_main (
        argc, argv, "onenet-adapter-land", "land",
        "Delivers the land registry's case records (its own 不动产登记 NDJSON export,\n"
        "one JSON object per line) to the onenet hub, from stdin or a spool directory.",
        land_map);
}
