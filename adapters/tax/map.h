/*  map: the tax bureau's own case records (金税 export) to case events.

    One JSON object per line, with the pinyin-abbreviated field names of the
    bureau's system:

        {"SWJG_DM": "16404250000", "WSH": "PYSW2020090100123",
         "YWLX": "QS", "YWZT": "JS", "NSRSBH": "91640425MA76H1234U",
         "BDCDYH": "640425001002GB00123F00010001",
         "FSSJ": "20200901093000", "JE": 12000.50, "XYDJ": null,
         "TKH": null, "UKEY": null, "WQS": null, "JLH": "SW-JL-000123"}

    YWLX (业务类型) and YWZT (业务状态) together choose the event:

        QS HD  deed_tax.assessed      attr deed_tax_yuan (JE)
        QS JS  deed_tax.paid          attr deed_tax_yuan (JE, optional)
        FP KJ  invoice.issued         attr ukey_issued (UKEY Y/N)
        ZX QJ  deregistration.cleared attr no_arrears (WQS Y/N)
        XY GX  credit_grade.shared    attr grade (XYDJ A/B/M/C/D)
        TK SP  refund.approved        key refund_no (TKH), attr amount_yuan (JE)

    WSH is the case number; FSSJ is Beijing time "YYYYMMDDHHMMSS"; NSRSBH
    becomes the credit_code key and BDCDYH the unit_number key, both checked
    by their standards. The event id is a UUID v5 over the agency and JLH
    when the record has one, else over the agency and the record's bytes.
    docs/adapters/tax.md documents the format. */
#ifndef ONENET_TAX_MAP_H
#define ONENET_TAX_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "mapped_event.h"

/* An adapter_map_fn (adapters/framework/mapped_event.h): parses one line
   into out. On failure returns false with a reason naming the field and
   its value in err. */
bool tax_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
              char *err, size_t errlen);

#endif
