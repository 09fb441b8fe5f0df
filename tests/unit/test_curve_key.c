/*  test_curve_key.c - unit tests for the CURVE key files: key pair files
    (common/curve_key.c), the authorised-keys file (hub/authorised_keys.c)
    and the identities the ZAP handler hands to ingest (hub/auth.c).

    Files are written to a fresh temporary directory: a key file's mode is
    checked, a bad line of the authorised-keys file is named with its file
    and line and skipped while the good lines around it count, and add and
    retire edit the file as hubctl keys does.
*/

#include "curve_key.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "authorised_keys.h"
#include "strbuf.h"

#define UNIT_NAME "test_curve_key"
#include "unit.h"

static char s_dir[64]; //  temporary directory of this run

static void
test_key_files (void)
{
    curve_keypair_t pair, back;
    char path[256], err[1024];
    CHECK (curve_keypair_new (&pair) == 0);
    CHECK (curve_key_valid (pair.public_key) && curve_key_valid (pair.secret_key));
    CHECK (!curve_key_valid ("short") && !curve_key_valid (NULL));
    CHECK (!curve_key_valid ("0123456789012345678901234567890123456789 ")); //  41 chars

    snprintf (path, sizeof path, "%s/a.key", s_dir);
    CHECK (curve_keyfile_write (path, &pair, err, sizeof err) == 0);
    struct stat st;
    CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK (curve_keyfile_read (path, &back, err, sizeof err) == 0);
    CHECK (STREQ (back.public_key, pair.public_key)
           && STREQ (back.secret_key, pair.secret_key));

    //  never over an existing file
    CHECK (curve_keyfile_write (path, &pair, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "exists") != NULL, err);

    //  readable by group or others: refused, naming the file and its mode
    chmod (path, 0644);
    CHECK (curve_keyfile_read (path, &back, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, path) && strstr (err, "0644"), err);
    chmod (path, 0600);

    //  garbage and mismatches, each named
    char text[300];
    snprintf (text, sizeof text, "secret-key = %s\n", pair.secret_key);
    CHECK (s_file_write (s_dir, "only-secret.key", text, path, sizeof path));
    chmod (path, 0600);
    CHECK (curve_keyfile_read (path, &back, err, sizeof err) == 0);
    CHECK (STREQ (back.public_key, pair.public_key)); //  derived from the secret key

    curve_keypair_t other;
    curve_keypair_new (&other);
    snprintf (text, sizeof text, "public-key = %s\nsecret-key = %s\n", other.public_key,
              pair.secret_key);
    CHECK (s_file_write (s_dir, "mismatch.key", text, path, sizeof path));
    chmod (path, 0600);
    CHECK (curve_keyfile_read (path, &back, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "does not belong"), err);

    CHECK (s_file_write (s_dir, "bad.key", "secret-key = not-a-key\n", path, sizeof path));
    chmod (path, 0600);
    CHECK (curve_keyfile_read (path, &back, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, path) && strstr (err, "secret-key"), err);

    CHECK (s_file_write (s_dir, "junk.key", "colour = blue\n", path, sizeof path));
    chmod (path, 0600);
    CHECK (curve_keyfile_read (path, &back, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "colour"), err);

    snprintf (path, sizeof path, "%s/missing.key", s_dir);
    CHECK (curve_keyfile_read (path, &back, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "missing.key"), err);
}

static void
test_endpoints (void)
{
    CHECK (curve_endpoint_local ("tcp://127.0.0.1:5570"));
    CHECK (curve_endpoint_local ("tcp://127.1.2.3:1"));
    CHECK (curve_endpoint_local ("tcp://localhost:5570"));
    CHECK (curve_endpoint_local ("tcp://[::1]:5570"));
    CHECK (curve_endpoint_local ("ipc:///run/onenet/hub"));
    CHECK (curve_endpoint_local ("inproc://x"));
    CHECK (!curve_endpoint_local ("tcp://0.0.0.0:5570"));
    CHECK (!curve_endpoint_local ("tcp://*:5570"));
    CHECK (!curve_endpoint_local ("tcp://10.12.0.5:5570"));
    CHECK (!curve_endpoint_local ("tcp://127.0.0.1.evil.example:5570"));
    CHECK (!curve_endpoint_local ("tcp://eth0:5570"));
    CHECK (!curve_endpoint_local ("pgm://127.0.0.1;239.192.1.1:5555"));
    char buf[64];
    CHECK (curve_first_remote ("tcp://127.0.0.1:1,tcp://127.0.0.2:2", buf, sizeof buf)
           == NULL);
    CHECK (curve_first_remote ("tcp://127.0.0.1:1, tcp://10.0.0.1:2", buf, sizeof buf)
               != NULL
           && STREQ (buf, "tcp://10.0.0.1:2"));

    char err[1024];
    curve_keypair_t pair;
    curve_keypair_new (&pair);
    CHECK (curve_client_check ("tcp://127.0.0.1:1", "", "", false, err, sizeof err) == 0);
    CHECK (curve_client_check ("tcp://10.0.0.1:1", "", "", false, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "tcp://10.0.0.1:1") != NULL, err);
    CHECK (curve_client_check ("tcp://10.0.0.1:1", "", "", true, err, sizeof err) == 0);
    CHECK (
        curve_client_check ("tcp://10.0.0.1:1", pair.public_key, "", false, err, sizeof err)
        == -1);
    CHECK_MSG (strstr (err, "secret-key") != NULL, err);
    CHECK (curve_client_check ("tcp://10.0.0.1:1", "nope", "/x", false, err, sizeof err)
           == -1);
    CHECK (curve_client_check ("tcp://10.0.0.1:1", pair.public_key, "/x", false, err,
                               sizeof err)
           == 0);
}

static void
test_authorised_keys (void)
{
    curve_keypair_t a, b, c;
    curve_keypair_new (&a);
    curve_keypair_new (&b);
    curve_keypair_new (&c);
    char text[2048], path[256];
    snprintf (text, sizeof text,
              "# keys\n"
              "\n"
              "adapter %s agency=tax adapter=tax-01 added=2026-11-29T03:00:00Z\n"
              "adapter %s agency=TAX adapter=tax-02\n" //  4: bad agency
              "read-only %s name=alice\n"
              "superuser %s\n" //  6: bad role
              "read-write %s name=bob retired=2026-11-30T00:00:00Z\n"
              "adapter %s agency=land\n"            //  8: no adapter=
              "read-only %s name=dup\n"             //  9: duplicate
              "read-only short-key name=x\n"        // 10: bad key
              "read-write %s name=x colour=blue\n", // 11: unknown attribute
              a.public_key, b.public_key, b.public_key, c.public_key, c.public_key,
              c.public_key, a.public_key, c.public_key);
    //  c's first good line is 7 (line 6 has a bad role)
    CHECK (s_file_write (s_dir, "authorised_keys", text, path, sizeof path));
    authorised_keys_t keys = {0};
    strbuf_t problems;
    strbuf_init (&problems);
    int skipped = authorised_keys_load (&keys, path, &problems);
    CHECK_MSG (skipped == 6, problems.data);
    CHECK (keys.n == 3);
    char where[300];
    int bad_lines[] = {4, 6, 8, 9, 10, 11};
    for (size_t i = 0; i < sizeof bad_lines / sizeof *bad_lines; i++) {
        snprintf (where, sizeof where, "%s:%d: ", path, bad_lines[i]);
        CHECK_MSG (strstr (problems.data, where) != NULL, where);
    }
    CHECK_MSG (strstr (problems.data, "superuser") != NULL, problems.data);
    CHECK_MSG (strstr (problems.data, "already appears on line 3") != NULL, problems.data);
    CHECK_MSG (strstr (problems.data, "colour") != NULL, problems.data);

    const authorised_key_t *e = authorised_keys_find (&keys, a.public_key);
    CHECK (e && e->role == KEY_ADAPTER && STREQ (e->agency, "tax")
           && STREQ (e->adapter, "tax-01") && e->line == 3 && !*e->retired);
    e = authorised_keys_find (&keys, b.public_key);
    CHECK (e && e->role == KEY_READ_ONLY && STREQ (e->name, "alice") && e->line == 5);
    e = authorised_keys_find (&keys, c.public_key);
    CHECK (e && e->role == KEY_READ_WRITE && *e->retired && e->line == 7);
    CHECK (authorised_keys_valid (&keys) == 2);

    //  identities as the ZAP handler writes them and ingest reads them
    char user_id[200];
    auth_identity_t id;
    auth_identity_format (authorised_keys_find (&keys, a.public_key), user_id,
                          sizeof user_id);
    CHECK (STREQ (user_id, "adapter tax tax-01"));
    CHECK (auth_identity_parse (user_id, &id) && id.role == KEY_ADAPTER
           && STREQ (id.agency, "tax") && STREQ (id.adapter, "tax-01"));
    auth_identity_format (authorised_keys_find (&keys, b.public_key), user_id,
                          sizeof user_id);
    CHECK (auth_identity_parse (user_id, &id) && id.role == KEY_READ_ONLY
           && STREQ (id.name, "alice"));
    CHECK (!auth_identity_parse ("", &id) && !auth_identity_parse ("root x", &id));

    //  add and retire, as hubctl keys does
    curve_keypair_t d;
    curve_keypair_new (&d);
    authorised_key_t entry = {.role = KEY_ADAPTER};
    snprintf (entry.key, sizeof entry.key, "%s", d.public_key);
    snprintf (entry.agency, sizeof entry.agency, "tax");
    snprintf (entry.adapter, sizeof entry.adapter, "tax-01");
    char err[1024];
    CHECK (authorised_keys_add (path, &entry, err, sizeof err) == 0);
    CHECK (authorised_keys_add (path, &entry, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "already holds"), err);
    CHECK (authorised_keys_retire (path, a.public_key, err, sizeof err) == 0);
    CHECK (authorised_keys_retire (path, a.public_key, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "already retired"), err);
    CHECK (authorised_keys_retire (path, b.secret_key, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "holds no key"), err);
    strbuf_reset (&problems);
    CHECK (authorised_keys_load (&keys, path, &problems) == 6);
    CHECK (keys.n == 4);
    e = authorised_keys_find (&keys, a.public_key);
    CHECK (e && *e->retired && e->line == 3);
    e = authorised_keys_find (&keys, d.public_key);
    CHECK (e && !*e->retired && *e->added && STREQ (e->agency, "tax"));
    CHECK (authorised_keys_valid (&keys) == 2);

    //  a new file is created by add
    snprintf (path, sizeof path, "%s/new_keys", s_dir);
    CHECK (authorised_keys_add (path, &entry, err, sizeof err) == 0);
    strbuf_reset (&problems);
    CHECK (authorised_keys_load (&keys, path, &problems) == 0 && keys.n == 1);
    snprintf (path, sizeof path, "%s/none", s_dir);
    CHECK (authorised_keys_load (&keys, path, &problems) == -1);
    CHECK (strstr (problems.data, "none") != NULL);

    authorised_keys_free (&keys);
    strbuf_free (&problems);
}

int
main (void)
{
    if (!s_tmpdir_new (s_dir, sizeof s_dir, "/tmp/onenet-curve-XXXXXX"))
        return 1;
    test_key_files ();
    test_endpoints ();
    test_authorised_keys ();
    const char *files[] = {"a.key",    "only-secret.key", "mismatch.key", "bad.key",
                           "junk.key", "authorised_keys", "new_keys"};
    s_tmpdir_remove (s_dir, files, sizeof files / sizeof *files);
    return s_summary ();
}
