/*  worker: a hub thread with its pipe, see worker.h. */
#include "worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

struct worker {
    pthread_t thread;    /* the thread */
    void *ctx;           /* ZeroMQ context shared with ingest */
    char endpoint[128];  /* inproc endpoint of the pipe */
    worker_body_fn body; /* what the thread runs */
    void *arg;           /* passed to body */
};

static void *
worker_main (void *arg)
{
    worker_t *self = arg;
    void *pipe = zmq_socket (self->ctx, ZMQ_PAIR);
    zmq_connect (pipe, self->endpoint);
    self->body (pipe, self->arg);
    zmq_close (pipe);
    return NULL;
}

worker_t *
worker_start (void *zmq_ctx, const char *endpoint, worker_body_fn body, void *arg)
{
    worker_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = zmq_ctx;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", endpoint);
    self->body = body;
    self->arg = arg;
    if (pthread_create (&self->thread, NULL, worker_main, self) != 0) {
        free (self);
        return NULL;
    }
    return self;
}

void
worker_join (worker_t **self_p)
{
    if (!*self_p)
        return;
    pthread_join ((*self_p)->thread, NULL);
    free (*self_p);
    *self_p = NULL;
}
