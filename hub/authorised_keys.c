/*  authorised_keys: parse and edit the authorised-keys file, see
    authorised_keys.h. */
#include "authorised_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "ident.h"

#define MAX_LINE 1024

const char *
authorised_key_role_name (key_role_t role)
{
    return role == KEY_ADAPTER     ? "adapter"
           : role == KEY_READ_ONLY ? "read-only"
                                   : "read-write";
}

bool
authorised_key_role_parse (const char *text, key_role_t *role)
{
    if (!strcmp (text, "adapter"))
        *role = KEY_ADAPTER;
    else if (!strcmp (text, "read-only"))
        *role = KEY_READ_ONLY;
    else if (!strcmp (text, "read-write"))
        *role = KEY_READ_WRITE;
    else
        return false;
    return true;
}

bool
authorised_key_name_valid (const char *text)
{
    size_t n = strlen (text);
    if (n == 0 || n > 64)
        return false;
    for (const char *p = text; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
            return false;
    return true;
}

static bool
time_valid (const char *text)
{
    int64_t ms;
    return strlen (text) < 32 && clock_parse_rfc3339 (text, &ms);
}

/* Parses one line (without its newline) into e. Returns false with the
   problem in err. */
static bool
parse_line (char *line, authorised_key_t *e, char *err, size_t errlen)
{
    memset (e, 0, sizeof *e);
    char *save = NULL;
    char *role = strtok_r (line, " \t", &save);
    char *key = strtok_r (NULL, " \t", &save);
    if (!authorised_key_role_parse (role, &e->role)) {
        snprintf (err, errlen, "unknown role \"%.40s\" (adapter, read-only or read-write)",
                  role);
        return false;
    }
    if (!key || !curve_key_valid (key)) {
        snprintf (err, errlen,
                  "the %s entry has no valid public key (40 characters of Z85)", role);
        return false;
    }
    strcpy (e->key, key);
    for (char *attr = strtok_r (NULL, " \t", &save); attr;
         attr = strtok_r (NULL, " \t", &save)) {
        char *eq = strchr (attr, '=');
        if (!eq) {
            snprintf (err, errlen, "\"%.40s\" is not name=value", attr);
            return false;
        }
        *eq = '\0';
        const char *value = eq + 1;
        bool ok = true;
        if (!strcmp (attr, "agency") && e->role == KEY_ADAPTER)
            ok = ident_agency_code_valid (value)
                 && snprintf (e->agency, sizeof e->agency, "%s", value) > 0;
        else if (!strcmp (attr, "adapter") && e->role == KEY_ADAPTER)
            ok = authorised_key_name_valid (value)
                 && snprintf (e->adapter, sizeof e->adapter, "%s", value) > 0;
        else if (!strcmp (attr, "name") && e->role != KEY_ADAPTER)
            ok = authorised_key_name_valid (value)
                 && snprintf (e->name, sizeof e->name, "%s", value) > 0;
        else if (!strcmp (attr, "added"))
            ok =
                time_valid (value) && snprintf (e->added, sizeof e->added, "%s", value) > 0;
        else if (!strcmp (attr, "retired"))
            ok = time_valid (value)
                 && snprintf (e->retired, sizeof e->retired, "%s", value) > 0;
        else {
            snprintf (err, errlen, "%s entry: unknown attribute \"%.40s\" (%s)", role, attr,
                      e->role == KEY_ADAPTER ? "agency, adapter, added, retired"
                                             : "name, added, retired");
            return false;
        }
        if (!ok) {
            snprintf (err, errlen, "%s=\"%.64s\" is not valid", attr, value);
            return false;
        }
    }
    if (e->role == KEY_ADAPTER && (!*e->agency || !*e->adapter)) {
        snprintf (err, errlen, "adapter entry %s needs agency= and adapter=", e->key);
        return false;
    }
    if (e->role != KEY_ADAPTER && !*e->name)
        snprintf (e->name, sizeof e->name, "operator");
    return true;
}

const authorised_key_t *
authorised_keys_find (const authorised_keys_t *keys, const char *z85)
{
    for (size_t i = 0; i < keys->n; i++)
        if (!strcmp (keys->keys[i].key, z85))
            return &keys->keys[i];
    return NULL;
}

size_t
authorised_keys_valid (const authorised_keys_t *keys)
{
    size_t n = 0;
    for (size_t i = 0; i < keys->n; i++)
        n += !*keys->keys[i].retired;
    return n;
}

int
authorised_keys_load (authorised_keys_t *keys, const char *path, strbuf_t *problems)
{
    keys->n = 0;
    FILE *f = fopen (path, "r");
    if (!f) {
        strbuf_printf (problems, "authorised-keys file %s: %s\n", path, strerror (errno));
        return -1;
    }
    char buf[MAX_LINE + 2];
    int line = 0, skipped = 0;
    while (fgets (buf, sizeof buf, f)) {
        line++;
        size_t len = strlen (buf);
        if (len && buf[len - 1] != '\n' && !feof (f)) {
            strbuf_printf (problems, "%s:%d: line longer than %d bytes\n", path, line,
                           MAX_LINE);
            skipped++;
            int c;
            while ((c = fgetc (f)) != EOF && c != '\n')
                ;
            continue;
        }
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = '\0';
        char *p = buf + strspn (buf, " \t");
        if (!*p || *p == '#')
            continue;
        authorised_key_t e;
        char err[256];
        if (!parse_line (p, &e, err, sizeof err)) {
            strbuf_printf (problems, "%s:%d: %s\n", path, line, err);
            skipped++;
            continue;
        }
        const authorised_key_t *dup = authorised_keys_find (keys, e.key);
        if (dup) {
            strbuf_printf (problems, "%s:%d: key %s already appears on line %d\n", path,
                           line, e.key, dup->line);
            skipped++;
            continue;
        }
        e.line = line;
        if (keys->n == keys->cap) {
            keys->cap = keys->cap ? keys->cap * 2 : 16;
            keys->keys = realloc (keys->keys, keys->cap * sizeof *keys->keys);
            if (!keys->keys)
                abort ();
        }
        keys->keys[keys->n++] = e;
    }
    fclose (f);
    return skipped;
}

void
authorised_keys_free (authorised_keys_t *keys)
{
    free (keys->keys);
    memset (keys, 0, sizeof *keys);
}

/* Reads the whole file into sb; a missing file reads as empty when
   may_be_missing. Returns 0 or -1 with err. */
static int
slurp (const char *path, strbuf_t *sb, bool may_be_missing, mode_t *mode, char *err,
       size_t errlen)
{
    *mode = 0644;
    FILE *f = fopen (path, "r");
    if (!f) {
        if (errno == ENOENT && may_be_missing)
            return 0;
        snprintf (err, errlen, "authorised-keys file %s: %s", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fileno (f), &st) == 0)
        *mode = st.st_mode & 07777;
    char buf[4096];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, f)) > 0)
        strbuf_append (sb, buf, n);
    fclose (f);
    return 0;
}

/* Replaces path by text, atomically, keeping mode. */
static int
replace (const char *path, const strbuf_t *text, mode_t mode, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf (tmp, sizeof tmp, "%s.tmp-%d", path, (int) getpid ());
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) {
        snprintf (err, errlen, "cannot create %s: %s", tmp, strerror (errno));
        return -1;
    }
    fchmod (fd, mode);
    bool ok = write (fd, text->data, text->len) == (ssize_t) text->len && fsync (fd) == 0;
    int saved = errno;
    ok = close (fd) == 0 && ok;
    if (ok && rename (tmp, path) != 0) {
        saved = errno;
        ok = false;
    }
    if (!ok) {
        unlink (tmp);
        snprintf (err, errlen, "cannot write %s: %s", path, strerror (saved));
        return -1;
    }
    return 0;
}

/* Serialises the edits of path between processes (two operators running
   hubctl keys at once): an exclusive flock on PATH.lock, held from reading
   the file to renaming its new text into place (the file itself is
   replaced, so it cannot carry the lock). Returns the lock's descriptor,
   to close when done, or -1 with err. */
static int
edit_lock (const char *path, char *err, size_t errlen)
{
    char lock[4096];
    snprintf (lock, sizeof lock, "%s.lock", path);
    int fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (err, errlen,
                  "cannot open the edit lock %s of the authorised-keys file: %s", lock,
                  strerror (errno));
        return -1;
    }
    while (flock (fd, LOCK_EX) != 0) {
        if (errno == EINTR)
            continue;
        snprintf (err, errlen, "cannot lock %s: %s", lock, strerror (errno));
        close (fd);
        return -1;
    }
    return fd;
}

int
authorised_keys_add (const char *path, const authorised_key_t *entry, char *err,
                     size_t errlen)
{
    int lock = edit_lock (path, err, errlen);
    if (lock < 0)
        return -1;
    strbuf_t text, problems;
    strbuf_init (&text);
    strbuf_init (&problems);
    authorised_keys_t keys = {0};
    mode_t mode;
    int rc = -1;
    if (slurp (path, &text, true, &mode, err, errlen) != 0)
        goto done;
    if (access (path, F_OK) == 0 && authorised_keys_load (&keys, path, &problems) >= 0) {
        const authorised_key_t *old = authorised_keys_find (&keys, entry->key);
        if (old) {
            snprintf (err, errlen, "%s:%d already holds key %s (%s%s)", path, old->line,
                      entry->key, authorised_key_role_name (old->role),
                      *old->retired ? ", retired" : "");
            goto done;
        }
    }
    if (text.len && text.data[text.len - 1] != '\n')
        strbuf_putc (&text, '\n');
    if (!text.len)
        strbuf_puts (&text, "# onenet authorised keys: ROLE KEY attribute=value ...\n"
                            "# (see docs/security.md; edit with hubctl keys)\n");
    char now[40];
    clock_format_utc (clock_now_ms (), now, sizeof now);
    strbuf_printf (&text, "%s %s", authorised_key_role_name (entry->role), entry->key);
    if (entry->role == KEY_ADAPTER)
        strbuf_printf (&text, " agency=%s adapter=%s", entry->agency, entry->adapter);
    else
        strbuf_printf (&text, " name=%s", entry->name);
    strbuf_printf (&text, " added=%s\n", now);
    rc = replace (path, &text, mode, err, errlen);
done:
    authorised_keys_free (&keys);
    strbuf_free (&text);
    strbuf_free (&problems);
    close (lock);
    return rc;
}

int
authorised_keys_retire (const char *path, const char *key, char *err, size_t errlen)
{
    int lock = edit_lock (path, err, errlen);
    if (lock < 0)
        return -1;
    strbuf_t text, out, problems;
    strbuf_init (&text);
    strbuf_init (&out);
    strbuf_init (&problems);
    authorised_keys_t keys = {0};
    mode_t mode;
    int rc = -1;
    if (slurp (path, &text, false, &mode, err, errlen) != 0
        || authorised_keys_load (&keys, path, &problems) < 0)
        goto done;
    const authorised_key_t *e = authorised_keys_find (&keys, key);
    if (!e) {
        snprintf (err, errlen, "%s holds no key %s", path, key);
        goto done;
    }
    if (*e->retired) {
        snprintf (err, errlen, "key %s (%s:%d) was already retired at %s", key, path,
                  e->line, e->retired);
        goto done;
    }
    char now[40];
    clock_format_utc (clock_now_ms (), now, sizeof now);
    /* copy the file, adding retired= to the key's line */
    int line = 1;
    for (size_t i = 0; i < text.len; i++) {
        char c = text.data[i];
        if (c == '\n' && line == e->line) {
            while (out.len
                   && (out.data[out.len - 1] == '\r' || out.data[out.len - 1] == ' '))
                out.len--;
            strbuf_printf (&out, " retired=%s", now);
        }
        strbuf_putc (&out, c);
        if (c == '\n')
            line++;
    }
    if (line == e->line && (!text.len || text.data[text.len - 1] != '\n'))
        strbuf_printf (&out, " retired=%s\n", now); /* the last line had no newline */
    rc = replace (path, &out, mode, err, errlen);
done:
    authorised_keys_free (&keys);
    strbuf_free (&text);
    strbuf_free (&out);
    strbuf_free (&problems);
    close (lock);
    return rc;
}
