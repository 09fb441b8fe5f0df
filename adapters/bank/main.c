/*  onenet-adapter-bank: the banks' adapter. Reads the banks' common record
    format (adapters/bank/map.h, docs/adapters/bank.md) from stdin or a
    spool directory and delivers the records to the hub as case events. */
#include "adapter.h"
#include "map.h"

int
main (int argc, char **argv)
{
    return adapter_main (
        argc, argv, "onenet-adapter-bank", "bank",
        "Delivers the county banks' records (accounts opened and closed, mortgages\n"
        "filed, loans applied for and decided, refunds received; one JSON object per\n"
        "line) to the onenet hub, from stdin or from a spool directory.",
        bank_map);
}
