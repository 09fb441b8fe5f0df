/*  test_id_index.c - unit tests for hub/id_index.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Ten thousand generated UUIDs go through the index with growth
    from empty, after a reset sized for them, and after a reset to a
    smaller batch; every one must be found at its row and no other id may
    be found.
*/

#include "id_index.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_NAME "test_id_index"
#include "unit.h"

#define N_IDS 10000

/*  Writes a UUID-shaped id made from seed into id (37 bytes).  */
static void
s_make_id (uint64_t seed, char id[37])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = seed * 0x9e3779b97f4a7c15ull + 1;
    uint64_t b = (seed ^ 0x5555) * 0xbf58476d1ce4e5b9ull + 7;
    int out = 0;
    for (int i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            id[out++] = '-';
        uint64_t word = i < 16 ? a : b;
        id[out++] = hex[(word >> ((i % 16) * 4)) & 15];
    }
    id[36] = '\0';
}

static int
s_cmp_id (const void *a, const void *b)
{
    return memcmp (a, b, 36);
}

/*  Checks every id is found at its row and a set of absent ids is not.  */
static void
s_check_all (const id_index_t *index, char (*ids)[37], size_t n, const char *what, int line)
{
    size_t wrong = 0, false_hits = 0;
    for (size_t r = 0; r < n; r++)
        if (id_index_find (index, ids, ids[r]) != (long) r)
            wrong++;
    for (uint64_t s = 0; s < 2000; s++) {
        char absent[37];
        s_make_id (1000000 + s, absent);
        if (id_index_find (index, ids, absent) != -1)
            false_hits++;
    }
    char detail[80];
    snprintf (detail, sizeof detail, "%zu not found at their row, %zu false hits", wrong,
              false_hits);
    s_check (wrong == 0 && false_hits == 0, what, detail, __FILE__, line);
}

static void
s_test_index (void)
{
    char (*ids)[37] = calloc (N_IDS, sizeof *ids);
    for (size_t r = 0; r < N_IDS; r++)
        s_make_id (r, ids[r]);
    //  The generated ids are distinct (or the test proves nothing).
    char (*sorted)[37] = malloc (N_IDS * sizeof *sorted);
    memcpy (sorted, ids, N_IDS * sizeof *sorted);
    qsort (sorted, N_IDS, sizeof *sorted, s_cmp_id);
    bool distinct = true;
    for (size_t r = 1; r < N_IDS && distinct; r++)
        if (memcmp (sorted[r], sorted[r - 1], 36) == 0)
            distinct = false;
    CHECK (distinct);
    free (sorted);

    //  Empty, never sized: every lookup misses.
    id_index_t index;
    id_index_init (&index);
    CHECK (index.cap == 0 && index.used == 0 && index.slots == NULL);
    CHECK (id_index_find (&index, ids, ids[0]) == -1);

    //  Growth from nothing, checking along the way.
    size_t wrong = 0;
    for (size_t r = 0; r < N_IDS; r++) {
        id_index_put (&index, ids, r);
        if (id_index_find (&index, ids, ids[r]) != (long) r
            || (r > 0 && id_index_find (&index, ids, ids[r / 2]) != (long) (r / 2)))
            wrong++;
        if (r + 1 < N_IDS && id_index_find (&index, ids, ids[r + 1]) != -1)
            wrong++;
    }
    CHECK (wrong == 0);
    CHECK (index.used == N_IDS);
    CHECK (index.cap >= 2 * N_IDS);
    CHECK ((index.cap & (index.cap - 1)) == 0);
    s_check_all (&index, ids, N_IDS, "all found after growth", __LINE__);

    //  Reset empties it; ids put earlier are gone.
    id_index_reset (&index, N_IDS);
    CHECK (index.used == 0);
    CHECK (id_index_find (&index, ids, ids[0]) == -1);
    CHECK (id_index_find (&index, ids, ids[N_IDS - 1]) == -1);
    size_t cap = index.cap;
    for (size_t r = 0; r < N_IDS; r++)
        id_index_put (&index, ids, r);
    CHECK (index.cap == cap); //  sized by reset: no growth
    s_check_all (&index, ids, N_IDS, "all found after reset", __LINE__);

    //  A later, smaller batch in the same index.
    id_index_reset (&index, 10);
    CHECK (index.used == 0);
    for (size_t r = 0; r < 10; r++)
        id_index_put (&index, ids, r);
    s_check_all (&index, ids, 10, "small batch after a large one", __LINE__);
    CHECK (id_index_find (&index, ids, ids[10]) == -1);
    CHECK (id_index_find (&index, ids, ids[N_IDS - 1]) == -1);

    //  Only the first 36 characters count (the hub passes rows read from
    //  PostgreSQL, NUL-terminated, and a batch's own ids).
    char probe[40];
    memcpy (probe, ids[3], 36);
    strcpy (probe + 36, "xyz");
    CHECK (id_index_find (&index, ids, probe) == 3);
    //  An id differing only in its last character misses.
    memcpy (probe, ids[3], 37);
    probe[35] = probe[35] == 'a' ? 'b' : 'a';
    CHECK (id_index_find (&index, ids, probe) == -1);
    id_index_free (&index);
    CHECK (index.slots == NULL && index.cap == 0 && index.used == 0);
    id_index_free (&index); //  twice is harmless

    //  Reset before any put, then a single entry; rows past 65535 work.
    id_index_init (&index);
    id_index_reset (&index, 0);
    CHECK (index.cap > 0 && index.used == 0);
    CHECK (id_index_find (&index, ids, ids[0]) == -1);
    char (*big)[37] = calloc (70001, sizeof *big);
    memcpy (big[70000], ids[5], 37);
    id_index_put (&index, big, 70000);
    CHECK (id_index_find (&index, big, ids[5]) == 70000);
    id_index_free (&index);
    free (big);

    //  Ids that all hash alike still work: the same id at several rows is
    //  found at the first one put (ingest relies on this to spot repeats).
    id_index_init (&index);
    char (*same)[37] = calloc (3, sizeof *same);
    for (int r = 0; r < 3; r++)
        memcpy (same[r], ids[7], 37);
    id_index_put (&index, same, 0);
    CHECK (id_index_find (&index, same, same[2]) == 0);
    id_index_free (&index);
    free (same);
    free (ids);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_index ();
    return s_summary ();
}
