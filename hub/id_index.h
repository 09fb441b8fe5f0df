/*  id_index: event id -> row number within one batch.

    An open-addressing hash table over the batch's own row_ids array (it
    stores row numbers, not strings). Used twice per batch: by ingest to
    spot an event id repeated inside the batch, and by store to map the ids
    that PostgreSQL reports as newly inserted back to their rows. Reset is
    O(capacity); capacity follows the largest batch seen. */
#ifndef ONENET_ID_INDEX_H
#define ONENET_ID_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t *slots; /* row + 1 per slot, 0 = empty */
    size_t cap;      /* slots, a power of two */
    size_t used;     /* filled slots */
} id_index_t;

void id_index_init (id_index_t *self);
void id_index_free (id_index_t *self);
/* Empties the index, sized for at least n entries. */
void id_index_reset (id_index_t *self, size_t n);
/* Row of id (36 chars) among ids, or -1. */
long id_index_find (const id_index_t *self, char (*ids)[37], const char *id);
/* Adds row (whose id is ids[row]); grows when more than half full. */
void id_index_put (id_index_t *self, char (*ids)[37], size_t row);

#endif
