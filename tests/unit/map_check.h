/*  map_check.h - what the tests of the record parser and of every agency
    mapping check the same way (tests/unit/test_record.c, test_map_*.c):

    - map_decode: a mapped event's bytes decoded the way the hub decodes
      them (in an EventBatch of one);
    - map_key, map_attr: one correlation key or attribute of it;
    - CHECK_REFUSED: a line the mapping must refuse, with the words its
      reason must hold;
    - CHECK_UNKNOWN_IGNORED: the one rule for unknown fields;
    - CHECK_PINNED: a record whose event id and encoded bytes are pinned
      (an FNV-1a digest of the bytes), so that a change of the code that
      builds events cannot change what an adapter sends for the same input.

    Include after unit.h (and codec.h). A test passes its own mapping
    function, map_fn: line -> serialized CaseEvent (or NULL and err), most
    simply through map_encode, which encodes a mapping's event as the
    adapter does.
*/

#ifndef ONENET_MAP_CHECK_H
#define ONENET_MAP_CHECK_H

#include "mapped_event.h"

/*  An agency mapping's event for line, encoded as the adapter encodes it
    (mapped_event_encode, the id as the record gives it): the bytes
    (malloc'd) and the id, or NULL with the mapping's reason in err.  */
static inline uint8_t *
map_encode (adapter_map_fn map, const char *line, size_t line_len, const char *agency,
            const char *adapter_id, int64_t accepted_at_ms, char id[37], size_t *len,
            char *err, size_t errlen)
{
    return mapped_event_encode (map, line, line_len, agency, adapter_id, accepted_at_ms,
                                NULL, 0, id, len, err, errlen);
}

typedef uint8_t *(*map_fn) (const char *line, char id[37], size_t *len, char *err,
                            size_t errlen);

/*  Decodes serialized CaseEvent bytes the way the hub would, into *event;
    returns the message holding it (NULL when the hub could not read it).  */
static inline codec_inbound_t *
map_decode (const uint8_t *bytes, size_t len, const char *adapter_id, const char *agency,
            case_event_t *event)
{
    const uint8_t *events[1] = {bytes};
    size_t lens[1] = {len};
    size_t msg_len;
    uint8_t *msg = codec_batch_encode (1, adapter_id, agency, events, lens, 1, &msg_len);
    if (!msg)
        return NULL;
    char err[256];
    codec_inbound_t *in = codec_inbound_decode (msg, msg_len, err, sizeof err);
    free (msg);
    if (!in || codec_inbound_event_count (in) != 1) {
        codec_inbound_destroy (&in);
        return NULL;
    }
    codec_inbound_event (in, 0, event);
    return in;
}

static inline const event_key_t *
map_key (const case_event_t *e, key_kind_t kind)
{
    for (size_t i = 0; i < e->n_keys; i++)
        if (e->keys[i].kind == kind)
            return &e->keys[i];
    return NULL;
}

static inline const event_attr_t *
map_attr (const case_event_t *e, const char *name)
{
    for (size_t i = 0; i < e->n_attrs; i++)
        if (!strcmp (e->attrs[i].name, name))
            return &e->attrs[i];
    return NULL;
}

#define CHECK_REFUSED(map, line, want, want2)                                              \
    s_check_refused ((map), (line), (want), (want2), __FILE__, __LINE__)

/*  The mapping refuses line, and its reason holds want (and want2).  */
static inline void
s_check_refused (map_fn map, const char *line, const char *want, const char *want2,
                 const char *file, int l)
{
    char id[37] = "";
    size_t len = 0;
    char err[320] = "";
    uint8_t *bytes = map (line, id, &len, err, sizeof err);
    char what[700];
    snprintf (what, sizeof what, "refuses %.400s with \"%s\"%s%s%s", line, want,
              want2 ? " and \"" : "", want2 ? want2 : "", want2 ? "\"" : "");
    char detail[400];
    if (bytes)
        snprintf (detail, sizeof detail, "accepted");
    else
        snprintf (detail, sizeof detail, "reason was: %s", err);
    s_check (!bytes && strstr (err, want) && (!want2 || strstr (err, want2)), what, detail,
             file, l);
    free (bytes);
}

#define CHECK_UNKNOWN_IGNORED(map, line)                                                   \
    s_check_unknown_ignored ((map), (line), __FILE__, __LINE__)

static inline void
s_check_unknown_ignored (map_fn map, const char *line, const char *file, int l)
{
    char id[37], err[320] = "";
    size_t len = 0, extra_len = 0;
    uint8_t *plain = map (line, id, &len, err, sizeof err);
    s_check (plain != NULL, "the example maps", err, file, l);
    //  the same record with two fields the format does not define
    const char *brace = strchr (line, '{');
    char *extra = malloc (strlen (line) + 64);
    if (!brace || !extra)
        abort ();
    sprintf (extra, "%.*s{\"备注\": \"加急\", \"operatorId\": 17, %s", (int) (brace - line),
             line, brace + 1);
    uint8_t *more = map (extra, id, &extra_len, err, sizeof err);
    s_check (more != NULL, "a record with unknown fields maps (they are ignored)", err,
             file, l);
    s_check (!plain || !more || extra_len == len,
             "the unknown fields do not travel (the event is the same size)", NULL, file,
             l);
    free (plain);
    free (more);
    free (extra);
}

/*  FNV-1a (64 bits) of bytes[0..len): a digest to pin encodings with.  */
static inline uint64_t
map_digest (const uint8_t *bytes, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= bytes[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/*  Checks an encoded event against its pinned id, length and digest.  */
static inline void
s_check_pinned_bytes (const uint8_t *bytes, size_t len, const char *id, const char *want_id,
                      size_t want_len, uint64_t want_digest, const char *file, int l)
{
    char got[160];
    snprintf (got, sizeof got, "got id %s, %zu bytes, digest 0x%016llxULL", id, len,
              (unsigned long long) (bytes ? map_digest (bytes, len) : 0));
    s_check (bytes && !strcmp (id, want_id), "the pinned event id", got, file, l);
    s_check (bytes && len == want_len && map_digest (bytes, len) == want_digest,
             "the pinned encoding", got, file, l);
}

#define CHECK_PINNED(map, line, want_id, want_len, want_digest)                            \
    s_check_pinned ((map), (line), (want_id), (want_len), (want_digest), __FILE__, __LINE__)

/*  The mapping turns line into the event with the pinned id and bytes.  */
static inline void
s_check_pinned (map_fn map, const char *line, const char *want_id, size_t want_len,
                uint64_t want_digest, const char *file, int l)
{
    char id[37] = "", err[320] = "";
    size_t len = 0;
    uint8_t *bytes = map (line, id, &len, err, sizeof err);
    s_check (bytes != NULL, "the pinned record maps", err, file, l);
    s_check_pinned_bytes (bytes, len, id, want_id, want_len, want_digest, file, l);
    free (bytes);
}

#endif
