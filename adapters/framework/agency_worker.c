/*  agency_worker: the agency database's own thread, see agency_worker.h. */
#include "agency_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"

struct agency_worker {
    void *main_end;   /* the main loop's end of the pair */
    void *thread_end; /* the worker's end, used only by the thread */
    pthread_t thread; /* the worker */
    bool busy;        /* a job is with the worker */
    char name[32];    /* for messages */
};

/* Sends the pointer p over socket; retried when a signal interrupts. */
static int
s_send_ptr (void *socket, void *p)
{
    while (zmq_send (socket, &p, sizeof p, 0) < 0)
        if (zmq_errno () != EINTR)
            return -1;
    return 0;
}

static void *
s_thread (void *arg)
{
    agency_worker_t *self = arg;
    void *socket = self->thread_end;
    while (true) {
        agency_job_t *job = NULL;
        int n = zmq_recv (socket, &job, sizeof job, 0);
        if (n < 0 && zmq_errno () == EINTR)
            continue;
        if (n != (int) sizeof job || !job)
            break; /* asked to stop (or the context is gone) */
        job->run (job);
        if (s_send_ptr (socket, job) != 0)
            break;
    }
    /* the last word: the main loop may now join and free */
    s_send_ptr (socket, NULL);
    zmq_close (socket);
    return NULL;
}

agency_worker_t *
agency_worker_new (void *zmq_ctx, const char *name, char *err, size_t errlen)
{
    agency_worker_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    snprintf (self->name, sizeof self->name, "%s", name);
    char endpoint[96];
    snprintf (endpoint, sizeof endpoint, "inproc://onenet-agency-%s-%p", name,
              (void *) self);
    int zero = 0;
    self->main_end = zmq_socket (zmq_ctx, ZMQ_PAIR);
    self->thread_end = zmq_socket (zmq_ctx, ZMQ_PAIR);
    if (!self->main_end || !self->thread_end
        || zmq_setsockopt (self->main_end, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_setsockopt (self->thread_end, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_bind (self->main_end, endpoint) != 0
        || zmq_connect (self->thread_end, endpoint) != 0) {
        snprintf (err, errlen, "could not open the %s worker's socket: %s", name,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    int rc = pthread_create (&self->thread, NULL, s_thread, self);
    if (rc != 0) {
        snprintf (err, errlen, "could not start the %s worker: %s", name, strerror (rc));
        goto fail;
    }
    return self;
fail:
    if (self->main_end)
        zmq_close (self->main_end);
    if (self->thread_end)
        zmq_close (self->thread_end);
    free (self);
    return NULL;
}

void *
agency_worker_socket (agency_worker_t *self)
{
    return self->main_end;
}

bool
agency_worker_busy (const agency_worker_t *self)
{
    return self->busy;
}

int
agency_worker_submit (agency_worker_t *self, agency_job_t *job)
{
    if (self->busy || !job || s_send_ptr (self->main_end, job) != 0)
        return -1;
    self->busy = true;
    return 0;
}

agency_job_t *
agency_worker_take (agency_worker_t *self)
{
    agency_job_t *job = NULL;
    if (!self->busy)
        return NULL;
    int n = zmq_recv (self->main_end, &job, sizeof job, ZMQ_DONTWAIT);
    if (n != (int) sizeof job || !job)
        return NULL;
    self->busy = false;
    return job;
}

bool
agency_worker_stop (agency_worker_t **self_p, int timeout_ms, agency_job_t **job_back)
{
    agency_worker_t *self = *self_p;
    *job_back = NULL;
    if (!self)
        return true;
    /* the stop comes after the job in hand: the thread answers that job
       first, then its last word (NULL) */
    if (s_send_ptr (self->main_end, NULL) != 0)
        return false;
    int64_t deadline = clock_mono_ms () + timeout_ms;
    while (true) {
        long wait = (long) (deadline - clock_mono_ms ());
        zmq_pollitem_t item = {self->main_end, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll (&item, 1, wait > 0 ? wait : 0);
        if (n < 0 && zmq_errno () == EINTR)
            continue;
        if (n <= 0) {
            /* still in the agency database: leave it to the end of the process */
            pthread_detach (self->thread);
            *self_p = NULL;
            return false;
        }
        agency_job_t *job = NULL;
        if (zmq_recv (self->main_end, &job, sizeof job, ZMQ_DONTWAIT) != (int) sizeof job)
            continue;
        if (job) {
            *job_back = job;
            self->busy = false;
            continue;
        }
        break; /* the last word */
    }
    pthread_join (self->thread, NULL);
    zmq_close (self->main_end);
    free (self);
    *self_p = NULL;
    return true;
}
