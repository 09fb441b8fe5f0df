/*  map_unknown.h - the one rule for unknown fields, checked the same way
    for every agency mapping test (tests/unit/test_map_*.c).

    Include after unit.h. A test passes its own s_map (line, id, &len, err,
    errlen) and one of its good example lines (a JSON object); the line
    with fields the format does not define added must map too, to an
    event of the same size: nothing of the unknown fields travels.
*/

#ifndef ONENET_MAP_UNKNOWN_H
#define ONENET_MAP_UNKNOWN_H

typedef uint8_t *(*map_unknown_fn) (const char *line, char id[37], size_t *len, char *err,
                                    size_t errlen);

#define CHECK_UNKNOWN_IGNORED(map, line)                                                   \
    s_check_unknown_ignored ((map), (line), __FILE__, __LINE__)

static inline void
s_check_unknown_ignored (map_unknown_fn map, const char *line, const char *file, int l)
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

#endif
