/*  map: the banks' common record format to case events.

    The county's banks report through one interface, one JSON object per
    line (docs/adapters/bank.md):

      {"bankCode":"ICBC","branch":"彭阳支行","txnType":"ACCT_OPEN",
       "txnRef":"ICBC-PY-20200901-000924","acctKind":"BASIC",
       "creditCode":"91640425MA76XXXXXX","unitNo":null,"refundNo":null,
       "loanAmount":null,"approved":null,"txnTime":"2020-09-01 09:31:21",
       "seq":"000924"}

    txnType chooses the event (ACCT_OPEN account.opened, ACCT_CLOSE
    account.closed, MORTGAGE_FILE mortgage.filed, LOAN_APPLY loan.applied,
    LOAN_DECIDE loan.decided, REFUND_RECV refund.received); txnRef is the
    case number; txnTime is Beijing local time without an offset. */
#ifndef ONENET_BANK_MAP_H
#define ONENET_BANK_MAP_H

#include <stddef.h>
#include <stdbool.h>

#include "mapped_event.h"

/* An adapter_map_fn (adapters/framework/mapped_event.h): parses one line
   into out. On failure returns false with a reason naming the field and
   its value in err. */
bool bank_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
               char *err, size_t errlen);

#endif
