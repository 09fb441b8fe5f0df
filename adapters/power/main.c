/*  onenet-adapter-power: the power company's adapter. Reads the power
    company's own NDJSON records (adapters/power/map.h,
    docs/adapters/power.md) from stdin or a spool directory and delivers
    them to the hub as case events of agency "power". */
#include "adapter.h"
#include "map.h"

int
main (int argc, char **argv)
{
    return adapter_main (
        argc, argv, "onenet-adapter-power", "power",
        "Delivers the power company's records (营销业务应用系统 export, NDJSON: grid\n"
        "connections accepted and completed, accounts transferred) to the onenet hub,\n"
        "from stdin or from a spool directory.",
        power_map);
}
