/*  id_index: event id -> row hash table, see id_index.h. */
#include "id_index.h"

#include <stdlib.h>
#include <string.h>

static uint64_t
hash_id (const char *id)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (int i = 0; i < 36; i++) {
        h ^= (unsigned char) id[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void
id_index_init (id_index_t *self)
{
    memset (self, 0, sizeof *self);
}

void
id_index_free (id_index_t *self)
{
    free (self->slots);
    id_index_init (self);
}

void
id_index_reset (id_index_t *self, size_t n)
{
    size_t cap = self->cap ? self->cap : 1024;
    while (cap < 2 * n)
        cap *= 2;
    if (cap != self->cap) {
        free (self->slots);
        self->slots = calloc (cap, sizeof *self->slots);
        if (!self->slots)
            abort ();
        self->cap = cap;
    }
    else
        memset (self->slots, 0, cap * sizeof *self->slots);
    self->used = 0;
}

long
id_index_find (const id_index_t *self, char (*ids)[37], const char *id)
{
    if (!self->cap)
        return -1;
    size_t mask = self->cap - 1;
    for (size_t i = hash_id (id) & mask;; i = (i + 1) & mask) {
        uint32_t slot = self->slots[i];
        if (!slot)
            return -1;
        if (memcmp (ids[slot - 1], id, 36) == 0)
            return (long) slot - 1;
    }
}

static void
insert (id_index_t *self, char (*ids)[37], size_t row)
{
    size_t mask = self->cap - 1;
    size_t i = hash_id (ids[row]) & mask;
    while (self->slots[i])
        i = (i + 1) & mask;
    self->slots[i] = (uint32_t) row + 1;
    self->used++;
}

void
id_index_put (id_index_t *self, char (*ids)[37], size_t row)
{
    if (!self->cap || 2 * (self->used + 1) > self->cap) {
        /* rehash into a table twice the size */
        uint32_t *old = self->slots;
        size_t old_cap = self->cap;
        self->cap = old_cap ? old_cap * 2 : 1024;
        self->slots = calloc (self->cap, sizeof *self->slots);
        if (!self->slots)
            abort ();
        self->used = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                insert (self, ids, old[i] - 1);
        free (old);
    }
    insert (self, ids, row);
}
