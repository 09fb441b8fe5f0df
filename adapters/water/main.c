/*  onenet-adapter-water: the water company's adapter. Reads the records of
    the 供水营业收费系统 export (adapters/water/map.h, docs/adapters/water.md)
    from stdin or a spool directory and delivers them to the hub. */
#include "adapter.h"
#include "map.h"

int
main (int argc, char **argv)
{
    return adapter_main (
        argc, argv, "onenet-adapter-water", "water",
        "Delivers the water company's records (供水营业收费系统 export: one JSON object\n"
        "per line, Chinese field names; 报装 受理/通水, 过户 完成) to the onenet hub,\n"
        "from stdin or from a spool directory.",
        water_map);
}
