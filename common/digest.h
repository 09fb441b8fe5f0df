/*  digest: the canonical encoding of a stored event and the hash chain
    over stored events (docs/schema.md, "Hash chain", is the specification
    an auditor can reimplement from).

    Both the hub (which writes the digests) and hubctl verify (which
    recomputes them from the stored columns) use this one module, so the
    two can never disagree about what was hashed.

    Content digest = SHA-256 of the canonical encoding of the event's
    columns: every field length-prefixed, timestamps as UTC with six
    fractional digits, keys and attrs as JSON values with object members
    sorted by name and numbers written as PostgreSQL's numeric prints them.
    Row digest = SHA-256 of (chain, seq, predecessor's row digest, content
    digest), length-prefixed. */
#ifndef ONENET_DIGEST_H
#define ONENET_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define DIGEST_LEN 32 /* bytes of a SHA-256 digest */

/* The columns of one events row that the content digest covers, as text.
   Timestamps in any form PostgreSQL prints or reads for timestamptz in
   ISO style ("2026-03-01 08:00:00.123+00", "2026-03-01T08:00:00Z", any
   UTC offset); accepted_at may be NULL. keys and attrs are JSON text. */
typedef struct {
    const char *event_id;       /* UUID, any case */
    const char *agency;         /* agency code */
    const char *adapter_id;     /* adapter instance */
    const char *case_no;        /* the agency's case number */
    const char *event_type;     /* the agency's vocabulary */
    const char *occurred_at;    /* timestamptz text */
    const char *accepted_at;    /* timestamptz text, or NULL */
    const char *received_at;    /* timestamptz text */
    const char *schema_version; /* decimal */
    const char *keys;           /* JSON object text */
    const char *attrs;          /* JSON object text */
    const char *hub_id;         /* hub that stored it */
} digest_event_t;

/* Appends the canonical encoding of e to out. Returns 0, or -1 with a
   message naming the column and the problem in err (errlen bytes). */
int digest_encode_event (const digest_event_t *e, strbuf_t *out, char *err, size_t errlen);

/* SHA-256 of the canonical encoding of e into digest; scratch is reused
   between calls to save allocations. Returns 0, or -1 with err. */
int digest_event (const digest_event_t *e, strbuf_t *scratch, uint8_t digest[DIGEST_LEN],
                  char *err, size_t errlen);

/* The row digest linking a row into its chain: SHA-256 over the chain
   name, the row's sequence number, the previous row's row digest (all
   zero bytes for seq 1) and the row's content digest. */
void digest_link (const char *chain, int64_t seq, const uint8_t prev[DIGEST_LEN],
                  const uint8_t content[DIGEST_LEN], uint8_t out[DIGEST_LEN]);

/* Canonical UTC text "YYYY-MM-DDTHH:MM:SS.ffffffZ" of a timestamptz text;
   out holds at least 32 bytes. False when text is not such a time. */
bool digest_canonical_time (const char *text, char *out, size_t outlen);

/* Lower-case hex of a digest into out (2 * DIGEST_LEN + 1 bytes). */
void digest_hex (const uint8_t digest[DIGEST_LEN], char *out);
/* Parses 2 * DIGEST_LEN hex digits (optionally after "\x"); false if not. */
bool digest_from_hex (const char *hex, uint8_t digest[DIGEST_LEN]);

#endif
