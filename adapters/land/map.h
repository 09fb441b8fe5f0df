/*  map: the land registry's own records (不动产登记系统 export) to case events.

        {"业务编号": "彭不动产受〔2020〕第000529号", "登记类型": "转移登记",
         "办理环节": "受理", "不动产单元号": "640425001002GB00123F00010001",
         "发生时间": "2020-09-01 09:30:00", "是否抵押": "是", "权利人": "马建国",
         "权利人证件号": "640425199001011234", "面积": 89.5, "变更类型": null,
         "记录号": "BDC-EXP-2020-0000001"}

    登记类型 x 办理环节 gives the event type (转移登记 + 受理 is
    transfer.accepted), 不动产单元号 the unit_number key, 业务编号 the case
    number, 发生时间 (Beijing local time, no offset) the occurrence time.
    docs/adapters/land.md documents every field, the mapping table and the
    refusals. */
#ifndef ONENET_LAND_MAP_H
#define ONENET_LAND_MAP_H

#include <stddef.h>
#include <stdbool.h>

#include "mapped_event.h"

/* An adapter_map_fn (adapters/framework/mapped_event.h): parses one line
   into out. On failure returns false with a reason naming the field and
   its value in err. */
bool land_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
               char *err, size_t errlen);

#endif
