/*  authorised_keys: the hub's authorised-keys file, which says who each
    CURVE public key is and what it may do.

    One key per line, fields separated by spaces; '#' starts a comment line:
        adapter    KEY agency=tax adapter=tax-01 added=2026-11-29T03:00:00Z
        read-only  KEY name=alice added=...
        read-write KEY name=ops-bob added=... retired=2026-12-01T09:00:00Z
    ROLE is adapter (speaks for one agency as one adapter, on the ingest
    socket), read-only (an operator who may ask the control socket status
    and metrics) or read-write (an operator who may also give it commands,
    such as reload-keys, and replay dead letters to the ingest socket).
    KEY is the client's public key in Z85 (40 characters). A key with
    retired= is kept for the record and refused. A bad line is reported
    with its file and line number and skipped; the good lines around it
    still count. hubctl keys edits the file; the hub re-reads it when it
    changes. */
#ifndef ONENET_AUTHORISED_KEYS_H
#define ONENET_AUTHORISED_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "curve_key.h"
#include "strbuf.h"

typedef enum { KEY_ADAPTER, KEY_READ_ONLY, KEY_READ_WRITE } key_role_t;

/* One line of the file. */
typedef struct {
    char key[CURVE_KEY_Z85_LEN + 1]; /* the client's public key, Z85 */
    key_role_t role;                 /* what it may do */
    char agency[33];                 /* adapter: the agency it speaks for */
    char adapter[65];                /* adapter: its adapter id */
    char name[65];                   /* operator: who holds it */
    char added[32];                  /* when it was added (UTC), "" if unknown */
    char retired[32];                /* when it was retired (UTC), "" while valid */
    int line;                        /* line in the file */
} authorised_key_t;

/* The keys of one file. */
typedef struct {
    authorised_key_t *keys; /* in file order */
    size_t n, cap;          /* used and allocated */
} authorised_keys_t;

/* Reads path into keys (replacing what they held). Problems with lines
   ("path:line: ...") are appended to problems, one per line, and those
   lines skipped. Returns the number of lines skipped, or -1 when the file
   cannot be read (the reason in problems). */
int authorised_keys_load (authorised_keys_t *keys, const char *path, strbuf_t *problems);

/* Frees what keys hold. */
void authorised_keys_free (authorised_keys_t *keys);

/* The entry for a public key (Z85), or NULL. */
const authorised_key_t *authorised_keys_find (const authorised_keys_t *keys,
                                              const char *z85);

/* Keys valid now (not retired). */
size_t authorised_keys_valid (const authorised_keys_t *keys);

/* "adapter", "read-only", "read-write"; and back. */
const char *authorised_key_role_name (key_role_t role);
bool authorised_key_role_parse (const char *text, key_role_t *role);

/* True when text may be an adapter or operator name (1-64 of A-Z a-z 0-9
   . _ -). */
bool authorised_key_name_valid (const char *text);

/* Appends entry (added now) to the file, creating it (mode 0644) if
   needed. Refuses a key the file already holds. Atomic: the hub never
   sees half a file. Returns 0, or -1 with err. */
int authorised_keys_add (const char *path, const authorised_key_t *entry, char *err,
                         size_t errlen);

/* Marks key retired now in the file. Returns 0, or -1 with err (unknown
   key, already retired, file unreadable). */
int authorised_keys_retire (const char *path, const char *key, char *err, size_t errlen);

#endif
