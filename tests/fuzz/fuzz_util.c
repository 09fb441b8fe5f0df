/*  fuzz_util: helpers of the harnesses, see fuzz.h. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "ident.h"
#include "strbuf.h"

char *
fuzz_cstring (const uint8_t *data, size_t size)
{
    char *s = malloc (size + 1);
    if (!s)
        abort ();
    if (size)
        memcpy (s, data, size);
    s[size] = '\0';
    return s;
}

static char scratch_dir[256];  /* "" until first use */
static char scratch_path[320]; /* the last file written, "" for none */

/* Removes the scratch file and directory when the fuzzer exits. */
static void
remove_scratch (void)
{
    if (*scratch_path)
        unlink (scratch_path);
    rmdir (scratch_dir);
}

const char *
fuzz_scratch_dir (void)
{
    char *dir = scratch_dir;
    if (!*dir) {
        const char *tmp = getenv ("TMPDIR");
        snprintf (dir, sizeof scratch_dir, "%s/onenet-fuzz-XXXXXX",
                  tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp (dir)) {
            perror ("fuzz: could not create a scratch directory");
            abort ();
        }
        atexit (remove_scratch);
    }
    return dir;
}

const char *
fuzz_scratch_file (const char *suffix, const uint8_t *data, size_t size)
{
    char *path = scratch_path;
    snprintf (path, sizeof scratch_path, "%s/input%s", fuzz_scratch_dir (), suffix);
    FILE *f = fopen (path, "wb");
    if (!f || (size && fwrite (data, 1, size, f) != size) || fclose (f) != 0) {
        perror ("fuzz: could not write the scratch file");
        abort ();
    }
    return path;
}

/* Aborts with what broke the adapter's promise. */
static void
broken (const char *what, const char *value)
{
    fprintf (stderr, "fuzz: an adapter parser produced an event with %s: \"%s\"\n", what,
             value ? value : "");
    abort ();
}

void
fuzz_check_adapter_event (const uint8_t *bytes, size_t len, const char *agency,
                          const char *event_id)
{
    const uint8_t *events[1] = {bytes};
    size_t lens[1] = {len}, msg_len;
    uint8_t *msg = codec_batch_encode (1, "fuzz-1", agency, events, lens, 1, &msg_len);
    if (!msg)
        broken ("bytes that are not a CaseEvent", NULL);
    char err[200];
    codec_inbound_t *in = codec_inbound_decode (msg, msg_len, err, sizeof err);
    if (!in || codec_inbound_event_count (in) != 1)
        broken ("bytes that do not decode", err);
    case_event_t e;
    codec_inbound_event (in, 0, &e);
    if (e.schema_version != ONENET_SCHEMA_VERSION)
        broken ("a wrong schema version", NULL);
    if (strcmp (e.event_id, event_id) != 0 || !ident_uuid_valid (e.event_id))
        broken ("an event id other than the one reported", e.event_id);
    if (strcmp (e.agency, agency) != 0)
        broken ("another agency", e.agency);
    if (!ident_event_type_valid (e.event_type, err, sizeof err))
        broken ("a malformed event type", e.event_type);
    if (!*e.case_no || !utf8_valid (e.case_no))
        broken ("an empty or non-UTF-8 case number", e.case_no);
    if (e.occurred_at_ms == 0)
        broken ("no occurrence time", NULL);
    for (size_t k = 0; k < e.n_keys; k++) {
        const event_key_t *key = &e.keys[k];
        if (!*key->value || !utf8_valid (key->value))
            broken ("an empty or non-UTF-8 key", key->value);
        if ((key->kind == KEY_CREDIT_CODE
             && !ident_credit_code_valid (key->value, err, sizeof err))
            || (key->kind == KEY_UNIT_NUMBER
                && !ident_unit_number_valid (key->value, err, sizeof err)))
            broken ("a key that fails its check rule", key->value);
        for (size_t j = 0; j < k; j++)
            if (e.keys[j].kind == key->kind)
                broken ("a key kind given twice", key->value);
    }
    for (size_t a = 0; a < e.n_attrs; a++) {
        const event_attr_t *at = &e.attrs[a];
        if (!*at->name || !utf8_valid (at->name))
            broken ("an empty or non-UTF-8 attribute name", at->name);
        if (at->type == ATTR_TEXT && !utf8_valid (at->text))
            broken ("a non-UTF-8 text attribute", at->name);
        if (at->type == ATTR_NONE)
            broken ("an attribute with no value", at->name);
        for (size_t j = 0; j < a; j++)
            if (strcmp (e.attrs[j].name, at->name) == 0)
                broken ("an attribute given twice", at->name);
    }
    codec_inbound_destroy (&in);
    free (msg);
}
