/*  test_settings.c - unit tests for common/settings.c, through the hub's
    own settings table (hub/hub_config.c)

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Config files are written to a fresh temporary directory. What
    settings_load reports on stderr is captured, so the tests can check
    that a bad file is named with its line and a bad flag with its name.
*/

#include "settings.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hub_config.h"

#define UNIT_NAME "test_settings"
#include "unit.h"

static char s_dir[64];       //  temporary directory of this run
static char s_stderr[4096];  //  what the last s_load wrote on stderr
static char s_stdout[16384]; //  and on stdout

/*  Reads fd from the start into buf (NUL-terminated).  */
static void
s_slurp (int fd, char *buf, size_t len)
{
    lseek (fd, 0, SEEK_SET);
    ssize_t n = read (fd, buf, len - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/*  Runs hub_config_load on the NULL-terminated argument list, capturing
    stdout and stderr. Returns its result.  */
static int
s_load (hub_config_t *config, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "onenet-hub";
    for (; *args && argc < 31; args++)
        argv[argc++] = (char *) *args;
    argv[argc] = NULL;

    char out_path[128], err_path[128];
    snprintf (out_path, sizeof out_path, "%s/stdout", s_dir);
    snprintf (err_path, sizeof err_path, "%s/stderr", s_dir);
    int out_fd = open (out_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int err_fd = open (err_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    fflush (stdout);
    fflush (stderr);
    int saved_out = dup (1), saved_err = dup (2);
    dup2 (out_fd, 1);
    dup2 (err_fd, 2);
    int rc = hub_config_load (config, argc, argv);
    fflush (stdout);
    fflush (stderr);
    dup2 (saved_out, 1);
    dup2 (saved_err, 2);
    close (saved_out);
    close (saved_err);
    s_slurp (out_fd, s_stdout, sizeof s_stdout);
    s_slurp (err_fd, s_stderr, sizeof s_stderr);
    close (out_fd);
    close (err_fd);
    return rc;
}

/*  Writes text to a file named name in the temporary directory; returns
    its path (static, overwritten by the next call).  */
static const char *
s_write_file (const char *name, const char *text)
{
    static char path[2][160];
    static int which;
    which = !which;
    s_file_write (s_dir, name, text, path[which], sizeof path[which]);
    return path[which];
}

/*  Checks that the last load reported something containing want.  */
#define CHECK_STDERR(want)                                                                 \
    s_check (strstr (s_stderr, (want)) != NULL, "stderr mentions \"" want "\"", s_stderr,  \
             __FILE__, __LINE__)

/*  The built-in defaults.  */
static void
s_test_defaults (void)
{
    hub_config_t c;
    memset (&c, 0x5a, sizeof c);
    const char *none[] = {NULL};
    CHECK (s_load (&c, none) == 0);
    CHECK (STREQ (c.listen, "tcp://127.0.0.1:5570"));
    CHECK (STREQ (c.db, ""));
    CHECK (c.hub_id[0] != '\0'); //  host-pid when not set
    char pid[24];
    snprintf (pid, sizeof pid, "-%d", (int) getpid ());
    CHECK (strstr (c.hub_id, pid) != NULL);
    CHECK (STREQ (c.log_level, "info"));
    CHECK (STREQ (c.agencies,
                  "tax,land,power,water,bank,market,police,social,gas,heat,approval"));
    CHECK (c.n_agencies == 11);
    CHECK (STREQ (c.agency_list[0], "tax") && STREQ (c.agency_list[10], "approval"));
    CHECK (c.batch_max == 2000);
    CHECK (c.batch_wait_ms == 0);
    CHECK (c.max_message_bytes == 1048576);
    CHECK (c.max_batch_events == 5000);
    CHECK (c.max_keys == 16);
    CHECK (c.max_attrs == 64);
    CHECK (c.max_string == 256);
    CHECK (c.max_text == 4096);
    CHECK (c.max_future_s == 86400);
    CHECK (c.max_past_days == 7300);
    CHECK (c.db_retry_max_ms == 5000);
    CHECK (c.drain_timeout_ms == 10000);
    CHECK (c.migrate_only == false);
    CHECK (s_stderr[0] == '\0');
    CHECK (hub_config_agency_known (&c, "land"));
    CHECK (hub_config_agency_known (&c, "approval"));
    CHECK (!hub_config_agency_known (&c, "customs"));
    CHECK (!hub_config_agency_known (&c, ""));
    CHECK (!hub_config_agency_known (&c, "lan"));
}

/*  Command-line flags.  */
static void
s_test_flags (void)
{
    hub_config_t c;
    const char *args[] = {"--batch-max",
                          "500",
                          "--listen",
                          "tcp://*:6000",
                          "--migrate-only",
                          "--hub-id",
                          "hub-a",
                          "--agencies",
                          "tax, land",
                          "--db",
                          "host=/tmp dbname=onenet",
                          "--log-level",
                          "debug",
                          "--max-past-days=30",
                          NULL};
    CHECK (s_load (&c, args) == 0);
    CHECK (c.batch_max == 500);
    CHECK (STREQ (c.listen, "tcp://*:6000"));
    CHECK (c.migrate_only == true);
    CHECK (STREQ (c.hub_id, "hub-a"));
    CHECK (c.n_agencies == 2 && STREQ (c.agency_list[0], "tax")
           && STREQ (c.agency_list[1], "land"));
    CHECK (STREQ (c.db, "host=/tmp dbname=onenet"));
    CHECK (STREQ (c.log_level, "debug"));
    CHECK (c.max_past_days == 30);
    hub_config_t d;
    const char *none[] = {NULL};
    CHECK (s_load (&d, none) == 0);
    //  untouched ones keep their defaults
    CHECK (c.batch_wait_ms == d.batch_wait_ms && c.max_keys == d.max_keys);

    //  Bounds are inclusive.
    const char *lo[] = {"--batch-max",     "1", "--max-attrs", "0",
                        "--batch-wait-ms", "0", NULL};
    CHECK (s_load (&c, lo) == 0 && c.batch_max == 1 && c.max_attrs == 0);
    const char *hi[] = {"--batch-max", "100000", "--max-message-bytes", "67108864", NULL};
    CHECK (s_load (&c, hi) == 0 && c.batch_max == 100000
           && c.max_message_bytes == 67108864);

    //  Refusals, each naming the flag.
    const char *zero[] = {"--batch-max", "0", NULL};
    CHECK (s_load (&c, zero) == 2);
    CHECK_STDERR ("batch-max must be an integer from 1 to 100000, not \"0\"");
    CHECK_STDERR ("Try \"onenet-hub --help\"");
    const char *word[] = {"--batch-max", "lots", NULL};
    CHECK (s_load (&c, word) == 2);
    CHECK_STDERR ("not \"lots\"");
    const char *partly[] = {"--batch-max", "12abc", NULL};
    CHECK (s_load (&c, partly) == 2);
    const char *empty[] = {"--batch-max", "", NULL};
    CHECK (s_load (&c, empty) == 2);
    const char *over[] = {"--batch-max", "100001", NULL};
    CHECK (s_load (&c, over) == 2);
    const char *huge[] = {"--batch-max", "99999999999999999999", NULL};
    CHECK (s_load (&c, huge) == 2);
    const char *wrap[] = {"--batch-max", "4294967297", NULL}; //  2^32 + 1
    CHECK (s_load (&c, wrap) == 2);
    const char *neg[] = {"--batch-wait-ms", "-1", NULL};
    CHECK (s_load (&c, neg) == 2);
    const char *unknown[] = {"--no-such-setting", "1", NULL};
    CHECK (s_load (&c, unknown) == 2);
    CHECK_STDERR ("no-such-setting");
    const char *missing[] = {"--batch-max", NULL};
    CHECK (s_load (&c, missing) == 2);
    const char *stray[] = {"extra", NULL};
    CHECK (s_load (&c, stray) == 2);
    CHECK_STDERR ("unexpected argument \"extra\"");
    const char *level[] = {"--log-level", "loud", NULL};
    CHECK (s_load (&c, level) == 2);
    CHECK_STDERR ("log-level");
    const char *agency[] = {"--agencies", "tax,Land", NULL};
    CHECK (s_load (&c, agency) == 2);
    CHECK_STDERR ("\"Land\"");
    char long_listen[400];
    memset (long_listen, 'a', sizeof long_listen - 1);
    long_listen[sizeof long_listen - 1] = '\0';
    const char *too_long[] = {"--listen", long_listen, NULL};
    CHECK (s_load (&c, too_long) == 2);
    CHECK_STDERR ("listen is longer than 255 bytes");

    //  --help and --version print and stop.
    const char *help[] = {"--help", NULL};
    CHECK (s_load (&c, help) == 1);
    CHECK (strstr (s_stdout, "Usage: onenet-hub") != NULL);
    CHECK (strstr (s_stdout, "--batch-max") != NULL);
    CHECK (strstr (s_stdout, "[2000]") != NULL);
    CHECK (strstr (s_stdout, "--config FILE") != NULL);
    const char *help_late[] = {"--batch-max", "5", "--help", NULL};
    CHECK (s_load (&c, help_late) == 1);
    const char *help_bad[] = {"--batch-max", "0", "--help", NULL};
    CHECK (s_load (&c, help_bad) == 1);
    const char *version[] = {"--version", NULL};
    CHECK (s_load (&c, version) == 1);
    CHECK (strstr (s_stdout, "onenet-hub 0.1.0") != NULL);
    const char *short_help[] = {"-h", NULL};
    CHECK (s_load (&c, short_help) == 1);

    //  After all that, a plain load still works (getopt state is reset).
    const char *plain[] = {"--batch-max", "42", NULL};
    CHECK (s_load (&c, plain) == 0 && c.batch_max == 42);
}

/*  The config file: its own section, other sections ignored, flags win.  */
static void
s_test_file (void)
{
    hub_config_t c;
    const char *path =
        s_write_file ("good.ini", "; onenet settings, shared by several programs\n"
                                  "# a comment too\n"
                                  "[adapter]\n"
                                  "unknown_thing = whatever\n"
                                  "batch_max = not a number\n"
                                  "\n"
                                  "[hub]\n"
                                  "listen = tcp://0.0.0.0:7000\n"
                                  "batch_max = 300\n"
                                  "max-keys = 8\n"
                                  "migrate-only = yes\n"
                                  "agencies = tax,land,water\n"
                                  "db = host=db.example port=5432 dbname=onenet\n"
                                  "hub_id = 彭阳-hub\n"
                                  "\n"
                                  "[other]\n"
                                  "listen = tcp://9.9.9.9:1\n");
    const char *file_only[] = {"--config", path, NULL};
    CHECK (s_load (&c, file_only) == 0);
    CHECK (STREQ (c.listen, "tcp://0.0.0.0:7000"));
    CHECK (c.batch_max == 300);
    CHECK (c.max_keys == 8);
    CHECK (c.migrate_only == true);
    CHECK (c.n_agencies == 3 && STREQ (c.agency_list[2], "water"));
    CHECK (STREQ (c.db, "host=db.example port=5432 dbname=onenet"));
    CHECK (STREQ (c.hub_id, "彭阳-hub"));
    CHECK (c.max_attrs == 64); //  not in the file: default
    CHECK (s_stderr[0] == '\0');

    //  Flags override the file, wherever they stand.
    const char *after[] = {"--config", path, "--batch-max", "900", NULL};
    CHECK (s_load (&c, after) == 0);
    CHECK (c.batch_max == 900 && STREQ (c.listen, "tcp://0.0.0.0:7000"));
    const char *before[] = {"--batch-max", "901", "--config", path, NULL};
    CHECK (s_load (&c, before) == 0);
    CHECK (c.batch_max == 901 && c.max_keys == 8);

    //  An empty file is the defaults.
    path = s_write_file ("empty.ini", "");
    const char *empty[] = {"--config", path, NULL};
    CHECK (s_load (&c, empty) == 0 && c.batch_max == 2000);

    //  Booleans spelled every way.
    static const char *truths[] = {"true", "yes", "1", "on"};
    static const char *lies[] = {"false", "no", "0", "off"};
    for (int i = 0; i < 4; i++) {
        char text[64];
        snprintf (text, sizeof text, "[hub]\nmigrate_only = %s\n", truths[i]);
        path = s_write_file ("bool.ini", text);
        const char *args[] = {"--config", path, NULL};
        s_check (s_load (&c, args) == 0 && c.migrate_only, "boolean true", truths[i],
                 __FILE__, __LINE__);
        snprintf (text, sizeof text, "[hub]\nmigrate_only = %s\n", lies[i]);
        path = s_write_file ("bool.ini", text);
        s_check (s_load (&c, args) == 0 && !c.migrate_only, "boolean false", lies[i],
                 __FILE__, __LINE__);
    }
}

/*  Config file errors: each returns 2 and names the file (and line).  */
static void
s_test_file_errors (void)
{
    hub_config_t c;
    const char *path =
        s_write_file ("unknown.ini", "[hub]\nbatch_max = 300\nbogus_setting = 1\n");
    const char *args[] = {"--config", path, NULL};
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR ("unknown setting \"bogus_setting\" in [hub]");
    CHECK (strstr (s_stderr, path) != NULL);

    path = s_write_file ("badint.ini", "[hub]\nbatch_max = three hundred\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR ("batch-max must be an integer from 1 to 100000, not \"three hundred\"");
    CHECK (strstr (s_stderr, path) != NULL);

    path = s_write_file ("range.ini", "[hub]\nmax_future_s = 31536001\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR ("max-future-s");

    //  a line inih would cut in two: refused, naming the line
    char text[512];
    snprintf (text, sizeof text, "[hub]\nlog_level = info\n; %0199d\nmax_keys = 8\n", 0);
    path = s_write_file ("long.ini", text);
    args[1] = path;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR (":3: line longer than 198 bytes");
    snprintf (text, sizeof text, "[hub]\n; %0196d\nmax_keys = 8\n", 0);
    path = s_write_file ("long.ini", text);
    CHECK (s_load (&c, args) == 0 && c.max_keys == 8);

    path = s_write_file ("badbool.ini", "[hub]\nmigrate_only = maybe\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR ("migrate-only must be true or false, not \"maybe\"");

    path = s_write_file ("syntax.ini",
                         "[hub]\nbatch_max = 300\nthis line has no equals sign\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR (":3: syntax error");
    CHECK (strstr (s_stderr, path) != NULL);

    path = s_write_file ("section.ini", "[hub\nbatch_max = 300\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR (":1: syntax error");

    //  Every problem in the file is reported, not just the first.
    path = s_write_file ("several.ini",
                         "[hub]\nfirst_bogus = 1\nbatch_max = x\nsecond_bogus = 2\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR ("first_bogus");
    CHECK_STDERR ("second_bogus");
    CHECK_STDERR ("not \"x\"");

    //  An unknown setting in another section is not ours to judge.
    path =
        s_write_file ("other.ini", "[adapter]\nbogus_setting = 1\n[hub]\nbatch_max = 7\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 0 && c.batch_max == 7);

    //  Settings before any section belong to no program.
    path = s_write_file ("nosection.ini", "batch_max = 7\n");
    args[1] = path;
    CHECK (s_load (&c, args) == 0 && c.batch_max == 2000);

    //  A file that is not there.
    char absent[160];
    snprintf (absent, sizeof absent, "%s/absent.ini", s_dir);
    args[1] = absent;
    CHECK (s_load (&c, args) == 2);
    CHECK_STDERR ("could not read config file");
    CHECK (strstr (s_stderr, absent) != NULL);
    const char *no_path[] = {"--config", NULL};
    CHECK (s_load (&c, no_path) == 2);

    //  A file error is reported even when a flag would fix the value.
    path = s_write_file ("badint.ini", "[hub]\nbatch_max = x\n");
    const char *fixed[] = {"--config", path, "--batch-max", "5", NULL};
    CHECK (s_load (&c, fixed) == 2);

    //  --help wins over a broken file.
    const char *help[] = {"--config", path, "--help", NULL};
    CHECK (s_load (&c, help) == 1);
}

/*  Repeated loads in one process must not depend on the previous one
    (getopt keeps state between calls).  */
static void
s_test_reload (void)
{
    hub_config_t c;
    //  Stop in the middle of a cluster of short options, then load again.
    const char *cluster[] = {"-hV", NULL};
    CHECK (s_load (&c, cluster) == 1);
    const char *plain[] = {"--batch-max", "43", NULL};
    int rc = s_load (&c, plain);
    s_check (rc == 0 && c.batch_max == 43,
             "a load after an interrupted one is not affected", s_stdout, __FILE__,
             __LINE__);
    const char *none[] = {NULL};
    CHECK (s_load (&c, none) == 0 && c.batch_max == 2000);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    if (!s_tmpdir_new (s_dir, sizeof s_dir, "/tmp/test_settings.XXXXXX"))
        return 1;
    s_test_defaults ();
    s_test_flags ();
    s_test_file ();
    s_test_file_errors ();
    s_test_reload ();

    static const char *const files[] = {
        "stdout",      "stderr",      "good.ini",  "empty.ini",    "bool.ini",
        "unknown.ini", "badint.ini",  "range.ini", "badbool.ini",  "syntax.ini",
        "section.ini", "several.ini", "other.ini", "nosection.ini"};
    s_tmpdir_remove (s_dir, files, sizeof files / sizeof *files);
    return s_summary ();
}
