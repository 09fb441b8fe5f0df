/*  hubctl keys: CURVE keys for the hub, its adapters and its operators.

        keys generate FILE      a new key pair in FILE (0600), public key printed
        keys public FILE        the public key of a key pair file
        keys add KEY ...        authorise a public key (adapter or operator)
        keys list               the authorised keys, valid and retired
        keys retire KEY         refuse a key from now on (kept for the record)
        keys reload             ask the hub to re-read the file now

    Rotation: generate a new pair, add its public key, move the adapter (or
    operator) to the new file, then retire the old key: both work in
    between, and the hub re-reads the file by itself (docs/security.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authorised_keys.h"
#include "curve_key.h"
#include "hubctl.h"
#include "ident.h"

static void
usage (void)
{
    printf (
        "Usage: hubctl keys generate FILE\n"
        "       hubctl keys public FILE\n"
        "       hubctl keys add [--file AUTH] --role adapter --agency AGENCY --adapter ID\n"
        "                       (KEY | --key KEY)\n"
        "       hubctl keys add [--file AUTH] --role read-only|read-write --name NAME\n"
        "                       (KEY | --key KEY)\n"
        "       hubctl keys list [--file AUTH]\n"
        "       hubctl keys retire [--file AUTH] (KEY | --key KEY)\n"
        "       hubctl keys reload [--control ENDPOINT] [--timeout S]\n\n"
        "CURVE keys of the hub, its adapters and its operators (docs/security.md).\n"
        "generate writes a new key pair to FILE (mode 0600, never over an existing\n"
        "file) and prints its public key; public prints the public key of a key file.\n"
        "add, list and retire edit the hub's authorised-keys file AUTH (--file, else\n"
        "authorised-keys in [hubctl] of --config, else $ONENET_AUTHORISED_KEYS); the\n"
        "hub re-reads it within a second. An adapter key speaks for one agency as one\n"
        "adapter; a read-only operator key may ask status, metrics and the\n"
        "vocabulary, a read-write one may also give commands (reload-keys) and\n"
        "replay. retire keeps the line with retired=TIME: the key is refused from\n"
        "its next connection on. reload asks the hub to re-read the file now (a\n"
        "read-write operator key). A Z85 key may start with '-': give it as\n"
        "--key KEY (or after --).\n\n"
        "Rotation: generate a new pair; add its public key; switch the adapter to the\n"
        "new file and restart it; retire the old key. Both keys work in between.\n");
}

static const char *
auth_file (const hubctl_options_t *options, const char *flag)
{
    if (flag)
        return flag;
    if (options->authorised_keys && *options->authorised_keys)
        return options->authorised_keys;
    return NULL;
}

static int
keys_generate (const hubctl_options_t *options, int argc, char **argv)
{
    if (argc != 2)
        return hubctl_usage_error ("keys", "generate takes one FILE");
    curve_keypair_t pair;
    char err[1024];
    if (curve_keypair_new (&pair) != 0) {
        fprintf (stderr, "hubctl keys: this libzmq has no CURVE support\n");
        return HUBCTL_FAILURE;
    }
    if (curve_keyfile_write (argv[1], &pair, err, sizeof err) != 0) {
        fprintf (stderr, "hubctl keys: %s\n", err);
        return HUBCTL_FAILURE;
    }
    if (options->json)
        printf ("{\"file\": \"%s\", \"public_key\": \"%s\"}\n", argv[1], pair.public_key);
    else
        printf ("%s\n", pair.public_key);
    memset (&pair, 0, sizeof pair);
    return HUBCTL_OK;
}

static int
keys_public (const hubctl_options_t *options, int argc, char **argv)
{
    if (argc != 2)
        return hubctl_usage_error ("keys", "public takes one FILE");
    curve_keypair_t pair;
    char err[1024];
    if (curve_keyfile_read (argv[1], &pair, err, sizeof err) != 0) {
        fprintf (stderr, "hubctl keys: %s\n", err);
        return HUBCTL_FAILURE;
    }
    if (options->json)
        printf ("{\"file\": \"%s\", \"public_key\": \"%s\"}\n", argv[1], pair.public_key);
    else
        printf ("%s\n", pair.public_key);
    memset (&pair, 0, sizeof pair);
    return HUBCTL_OK;
}

/* add, list, retire: their options. Returns the index of the first
   argument left, or -1 on a usage error (reported). */
static int
parse_edit (int argc, char **argv, const char **file, const char **role,
            const char **agency, const char **adapter, const char **name, const char **key)
{
    static struct option opts[] = {{"file", required_argument, NULL, 'f'},
                                   {"key", required_argument, NULL, 'k'},
                                   {"role", required_argument, NULL, 'r'},
                                   {"agency", required_argument, NULL, 'a'},
                                   {"adapter", required_argument, NULL, 'd'},
                                   {"name", required_argument, NULL, 'n'},
                                   {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': *file = optarg; break;
        case 'r': *role = optarg; break;
        case 'a': *agency = optarg; break;
        case 'd': *adapter = optarg; break;
        case 'n': *name = optarg; break;
        case 'k': *key = optarg; break;
        default: hubctl_usage_error ("keys", "unknown option"); return -1;
        }
    }
    return optind;
}

static int
keys_add (const hubctl_options_t *options, int argc, char **argv)
{
    const char *file = NULL, *role = NULL, *agency = NULL, *adapter = NULL, *name = NULL,
               *key = NULL;
    int at = parse_edit (argc, argv, &file, &role, &agency, &adapter, &name, &key);
    if (at < 0)
        return HUBCTL_USAGE;
    file = auth_file (options, file);
    if (!file)
        return hubctl_usage_error ("keys", "which authorised-keys file? give --file AUTH");
    if (!key && at == argc - 1)
        key = argv[at++];
    if (!key || at != argc)
        return hubctl_usage_error ("keys", "add takes one public KEY (--key KEY when it "
                                           "starts with '-')");
    authorised_key_t e;
    memset (&e, 0, sizeof e);
    if (!curve_key_valid (key))
        return hubctl_usage_error ("keys",
                                   "\"%s\" is not a public key (40 characters of Z85,"
                                   " as 'hubctl keys generate' prints)",
                                   key);
    snprintf (e.key, sizeof e.key, "%s", key);
    if (!role || !authorised_key_role_parse (role, &e.role))
        return hubctl_usage_error ("keys",
                                   "--role must be adapter, read-only or read-write");
    if (e.role == KEY_ADAPTER) {
        if (!agency || !ident_agency_code_valid (agency))
            return hubctl_usage_error ("keys", "an adapter key needs --agency CODE "
                                               "(1-32 of a-z, 0-9, _)");
        if (!adapter || !authorised_key_name_valid (adapter))
            return hubctl_usage_error (
                "keys", "an adapter key needs --adapter ID "
                        "(1-64 of A-Z a-z 0-9 . _ -), the adapter's adapter-id");
        if (name)
            return hubctl_usage_error ("keys", "--name is for operator keys");
        snprintf (e.agency, sizeof e.agency, "%s", agency);
        snprintf (e.adapter, sizeof e.adapter, "%s", adapter);
    }
    else {
        if (!name || !authorised_key_name_valid (name))
            return hubctl_usage_error ("keys", "an operator key needs --name NAME "
                                               "(1-64 of A-Z a-z 0-9 . _ -)");
        if (agency || adapter)
            return hubctl_usage_error ("keys",
                                       "--agency and --adapter are for adapter keys");
        snprintf (e.name, sizeof e.name, "%s", name);
    }
    char err[1024];
    if (authorised_keys_add (file, &e, err, sizeof err) != 0) {
        fprintf (stderr, "hubctl keys: %s\n", err);
        return HUBCTL_FAILURE;
    }
    if (e.role == KEY_ADAPTER)
        printf ("added adapter key %s for agency %s, adapter %s to %s\n", e.key, e.agency,
                e.adapter, file);
    else
        printf ("added %s operator key %s for %s to %s\n", role, e.key, e.name, file);
    return HUBCTL_OK;
}

static int
keys_list (const hubctl_options_t *options, int argc, char **argv)
{
    const char *file = NULL, *role = NULL, *agency = NULL, *adapter = NULL, *name = NULL,
               *key = NULL;
    int at = parse_edit (argc, argv, &file, &role, &agency, &adapter, &name, &key);
    if (at < 0)
        return HUBCTL_USAGE;
    if (at != argc || role || agency || adapter || name || key)
        return hubctl_usage_error ("keys", "list takes only --file");
    file = auth_file (options, file);
    if (!file)
        return hubctl_usage_error ("keys", "which authorised-keys file? give --file AUTH");
    authorised_keys_t keys = {0};
    strbuf_t problems;
    strbuf_init (&problems);
    int skipped = authorised_keys_load (&keys, file, &problems);
    if (problems.len)
        fprintf (stderr, "hubctl keys: %s", problems.data);
    strbuf_free (&problems);
    if (skipped < 0)
        return HUBCTL_FAILURE;
    if (options->json) {
        json_t *arr = json_array ();
        for (size_t i = 0; i < keys.n; i++) {
            const authorised_key_t *e = &keys.keys[i];
            json_t *o = json_object ();
            json_object_set_new (o, "role",
                                 json_string (authorised_key_role_name (e->role)));
            json_object_set_new (o, "key", json_string (e->key));
            json_object_set_new (o, "agency",
                                 e->role == KEY_ADAPTER ? json_string (e->agency)
                                                        : json_null ());
            json_object_set_new (o, "adapter",
                                 e->role == KEY_ADAPTER ? json_string (e->adapter)
                                                        : json_null ());
            json_object_set_new (
                o, "name", e->role != KEY_ADAPTER ? json_string (e->name) : json_null ());
            json_object_set_new (o, "added", hubctl_instant_json (e->added));
            json_object_set_new (o, "retired", hubctl_instant_json (e->retired));
            json_object_set_new (o, "line", json_integer (e->line));
            json_array_append_new (arr, o);
        }
        json_dumpf (arr, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (arr);
    }
    else {
        printf ("%-10s  %-40s  %-8s  %-20s  %-24s  %s\n", "role", "key", "agency",
                "adapter/name", "added", "retired");
        for (size_t i = 0; i < keys.n; i++) {
            const authorised_key_t *e = &keys.keys[i];
            printf ("%-10s  %-40s  %-8s  %-20s  %-24s  %s\n",
                    authorised_key_role_name (e->role), e->key,
                    e->role == KEY_ADAPTER ? e->agency : "-",
                    e->role == KEY_ADAPTER ? e->adapter : e->name,
                    *e->added ? e->added : "-", *e->retired ? e->retired : "-");
        }
        printf ("(%zu keys, %zu valid)\n", keys.n, authorised_keys_valid (&keys));
    }
    authorised_keys_free (&keys);
    return HUBCTL_OK;
}

static int
keys_retire (const hubctl_options_t *options, int argc, char **argv)
{
    const char *file = NULL, *role = NULL, *agency = NULL, *adapter = NULL, *name = NULL,
               *key = NULL;
    int at = parse_edit (argc, argv, &file, &role, &agency, &adapter, &name, &key);
    if (at < 0)
        return HUBCTL_USAGE;
    if (!key && at == argc - 1)
        key = argv[at++];
    if (!key || at != argc || role || agency || adapter || name)
        return hubctl_usage_error ("keys", "retire takes --file and one public KEY (--key "
                                           "KEY when it starts with '-')");
    file = auth_file (options, file);
    if (!file)
        return hubctl_usage_error ("keys", "which authorised-keys file? give --file AUTH");
    char err[1024];
    if (authorised_keys_retire (file, key, err, sizeof err) != 0) {
        fprintf (stderr, "hubctl keys: %s\n", err);
        return HUBCTL_FAILURE;
    }
    printf ("retired key %s in %s: the hub refuses it from its next connection on\n", key,
            file);
    return HUBCTL_OK;
}

static int
keys_reload (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"control", required_argument, NULL, 'c'},
                                   {"timeout", required_argument, NULL, 't'},
                                   {NULL, 0, NULL, 0}};
    const char *control = options->control ? options->control : HUBCTL_DEFAULT_CONTROL;
    int timeout_ms = 3000, c;
    optind = 1;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c')
            control = optarg;
        else if (c == 't' && hubctl_count_arg (optarg))
            timeout_ms = atoi (optarg) * 1000;
        else
            return hubctl_usage_error ("keys", "reload takes --control and --timeout");
    }
    if (optind != argc)
        return hubctl_usage_error ("keys", "reload takes --control and --timeout");
    char err[1024];
    char *answer =
        hubctl_ask_hub (options, control, "reload-keys", timeout_ms, err, sizeof err);
    if (!answer) {
        fprintf (stderr, "hubctl keys reload: %s\n", err);
        return HUBCTL_FAILURE;
    }
    json_t *j = json_loads (answer, 0, NULL);
    int rc = HUBCTL_OK;
    const char *error = j ? json_string_value (json_object_get (j, "error")) : NULL;
    if (!j || error) {
        fprintf (stderr, "hubctl keys reload: the hub answered: %s\n",
                 error ? error : answer);
        rc = HUBCTL_FAILURE;
    }
    else if (options->json)
        printf ("%s\n", answer);
    else {
        printf ("the hub re-read %s: %lld keys, %lld valid\n",
                json_string_value (json_object_get (j, "file")),
                (long long) json_integer_value (json_object_get (j, "keys")),
                (long long) json_integer_value (json_object_get (j, "valid")));
        size_t i;
        json_t *p;
        json_array_foreach (json_object_get (j, "problems"), i, p)
            printf ("  skipped: %s\n", json_string_value (p));
    }
    json_decref (j);
    free (answer);
    return rc;
}

int
cmd_keys (const hubctl_options_t *options, int argc, char **argv)
{
    if (argc < 2 || !strcmp (argv[1], "--help") || !strcmp (argv[1], "-h")) {
        usage ();
        return argc < 2 ? HUBCTL_USAGE : HUBCTL_OK;
    }
    const char *sub = argv[1];
    if (hubctl_wants_help (argc, argv)) {
        usage ();
        return HUBCTL_OK;
    }
    if (!strcmp (sub, "generate"))
        return keys_generate (options, argc - 1, argv + 1);
    if (!strcmp (sub, "public"))
        return keys_public (options, argc - 1, argv + 1);
    if (!strcmp (sub, "add"))
        return keys_add (options, argc - 1, argv + 1);
    if (!strcmp (sub, "list"))
        return keys_list (options, argc - 1, argv + 1);
    if (!strcmp (sub, "retire"))
        return keys_retire (options, argc - 1, argv + 1);
    if (!strcmp (sub, "reload"))
        return keys_reload (options, argc - 1, argv + 1);
    return hubctl_usage_error ("keys",
                               "'%s' is not a keys command (generate, public, add, "
                               "list, retire, reload)",
                               sub);
}
