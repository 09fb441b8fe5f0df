/*  task_out: tasks as files in an out-spool, see task_out.h. */
#include "task_out.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

/* Writes all of buf to fd. */
static int
write_all (int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t) n;
    }
    return 0;
}

int
task_out_write (const char *dir, const task_t *t, char *err, size_t errlen)
{
    char ready[40], due[40];
    clock_format_utc (t->ready_at_ms, ready, sizeof ready);
    clock_format_utc (t->due_at_ms, due, sizeof due);
    json_t *payload = json_loads (t->payload_json, 0, NULL);
    json_t *key = json_object ();
    json_object_set_new (key, key_kind_name (t->key_kind), json_string (t->key_value));
    json_t *line = json_pack ("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s?}", "task_seq",
                              (json_int_t) t->seq, "agency", t->agency, "kind", t->kind,
                              "workflow", t->workflow, "step", t->step, "key", key,
                              "payload", payload ? payload : json_object (), "ready_at",
                              ready, "due_at", t->due_at_ms ? due : NULL);
    /* a task the case no longer calls for: a record, not work */
    if (line && t->withdrawn) {
        json_object_set_new (line, "withdrawn", json_true ());
        json_object_set_new (line, "withdrawn_reason",
                             json_string (t->withdrawn_reason ? t->withdrawn_reason : ""));
    }
    char *text = line ? json_dumps (line, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref (line);
    if (!text) {
        snprintf (err, errlen, "task %llu of agency %s could not be encoded",
                  (unsigned long long) t->seq, t->agency);
        return -1;
    }
    char tmp[1024], path[1024];
    snprintf (tmp, sizeof tmp, "%s/.%s-task-%012llu.ndjson.tmp", dir, t->agency,
              (unsigned long long) t->seq);
    snprintf (path, sizeof path, "%s/%s-task-%012llu.ndjson", dir, t->agency,
              (unsigned long long) t->seq);
    /* each step that fails says which, with its errno: a task is delivered
       only once its file and the rename are on disk */
    const char *failed = NULL;
    int error = 0;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        failed = "could not create";
        error = errno;
    }
    else {
        if (write_all (fd, text, strlen (text)) != 0 || write_all (fd, "\n", 1) != 0)
            failed = "could not write";
        else if (fsync (fd) != 0)
            failed = "could not flush";
        error = errno;
        if (close (fd) != 0 && !failed) {
            failed = "could not write";
            error = errno;
        }
    }
    if (!failed && rename (tmp, path) != 0) {
        failed = "could not rename into place";
        error = errno;
    }
    if (!failed) {
        /* the rename itself must survive power loss */
        int dfd = open (dir, O_RDONLY | O_DIRECTORY);
        if (dfd < 0 || fsync (dfd) != 0) {
            failed = "could not flush the directory of";
            error = errno;
        }
        if (dfd >= 0)
            close (dfd);
    }
    int rc = 0;
    if (failed) {
        snprintf (err, errlen, "%s task file \"%s\": %s", failed, path, strerror (error));
        unlink (tmp); /* a rename already done leaves nothing there */
        rc = -1;
    }
    free (text);
    return rc;
}
