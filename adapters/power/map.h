/*  map: the power company's case records to case events.

    The power company (供电公司) exports its 营销业务应用系统 (marketing
    system) records as NDJSON, one object per line, in its own field names:

      {"appNo":"PYGD-2020-0346","busiType":"NEW_INSTALL","step":"ACCEPT",
       "voltageLevel":"LV","capacityKva":30,"needExternalWorks":false,
       "needTransformer":false,"supplyMode":null,
       "unitNo":"640425001002GB00123F00010001","custName":"马建国",
       "eventTime":"2020-09-01T09:30:00","recId":"optional"}

    busiType + step          event
    NEW_INSTALL + ACCEPT     connection.accepted (connection_class,
                             external_works, capacity_kva)
    NEW_INSTALL + COMPLETE   connection.completed
    TRANSFER + DONE          account.transferred

    Every event has case_no = appNo and the key application_no = appNo;
    unitNo, when present, becomes the key unit_number. eventTime is Beijing
    local time without an offset. The full format, the class derivation and
    every refusal are in docs/adapters/power.md. */
#ifndef ONENET_POWER_MAP_H
#define ONENET_POWER_MAP_H

#include <stddef.h>
#include <stdbool.h>

#include "mapped_event.h"

/* An adapter_map_fn (adapters/framework/mapped_event.h): parses one line
   into out. On failure returns false with a reason naming the field and
   its value in err. */
bool power_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
                char *err, size_t errlen);

#endif
