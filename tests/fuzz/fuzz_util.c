/*  fuzz_util: helpers of the harnesses, see fuzz.h. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
