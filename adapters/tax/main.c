/*  onenet-adapter-tax: the tax bureau's adapter. Reads the bureau's own case
    records (金税 export, adapters/tax/map.h, docs/adapters/tax.md) from stdin
    or a spool directory and delivers them to the hub as case events. */
#include "adapter.h"
#include "map.h"

int
main (int argc, char **argv)
{
    return adapter_main (
        argc, argv, "onenet-adapter-tax", "tax",
        "Delivers the tax bureau's case records (金税 export: deed tax, invoices,\n"
        "deregistration, credit grades, refunds; one JSON object per line) to the\n"
        "onenet hub, from stdin or from a spool directory.",
        tax_map);
}
