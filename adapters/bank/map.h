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
#include <stdint.h>

/* An adapter_map_fn (adapters/framework/adapter.h): maps one bank record
   to one serialized CaseEvent for agency (normally "bank"). Returns
   malloc'd bytes and their length and writes the event id; or returns NULL
   and writes into err a reason naming the field and its value. The event
   id is a UUID v5 over agency, bankCode and seq when the record has a seq,
   else over agency and the record's bytes: a record sent twice is one
   event. */
uint8_t *bank_map (const char *line, size_t line_len, const char *agency,
                   const char *adapter_id, int64_t accepted_at_ms, char event_id[37],
                   size_t *len, char *err, size_t errlen);

#endif
