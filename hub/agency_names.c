/*  agency_names: see agency_names.h. */
#include "agency_names.h"

#include <stddef.h>
#include <string.h>

static const struct {
    const char *code, *name;
} names[] = {
    {"tax", "税务局"},
    {"land", "不动产登记中心"},
    {"power", "供电公司"},
    {"water", "供水公司"},
    {"gas", "燃气公司"},
    {"heat", "供热公司"},
    {"bank", "银行"},
    {"market", "市场监管局"},
    {"police", "公安局"},
    {"social", "人社局"},
    {"approval", "行政审批服务局"},
};

const char *
agency_name_zh (const char *code)
{
    for (size_t i = 0; code && i < sizeof names / sizeof *names; i++)
        if (strcmp (names[i].code, code) == 0)
            return names[i].name;
    return NULL;
}
