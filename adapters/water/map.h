/*  map: the water company's own records (供水营业收费系统 export) to case
    events. One JSON object per line, with the export's Chinese field names:

        {"工单号": "PYSW-J-20200901-0655", "业务": "报装", "节点": "受理",
         "外线工程": "是", "特殊场所": "否", "用水地址": "彭阳县白阳镇...",
         "不动产单元号": "640425001002GB00123F00010001", "户名": "马建国",
         "时间": "2020/09/01 09:30", "流水号": "optional"}

        业务 报装 + 节点 受理  ->  connection.accepted (external_works,
                                  special_case flags from 外线工程, 特殊场所)
        业务 报装 + 节点 通水  ->  connection.completed
        业务 过户 + 节点 完成  ->  account.transferred

    docs/adapters/water.md documents every field and refusal. */
#ifndef ONENET_WATER_MAP_H
#define ONENET_WATER_MAP_H

#include <stddef.h>
#include <stdbool.h>

#include "mapped_event.h"

/* An adapter_map_fn (adapters/framework/mapped_event.h): parses one line
   into out. On failure returns false with a reason naming the field and
   its value in err. */
bool water_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
                char *err, size_t errlen);

#endif
