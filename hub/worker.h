/*  worker: one hub thread and the inproc pipe it is told things over.

    The hub's threads (store, correlate, supervise, dispatch) share no
    state with ingest: each gets the far end of an inproc PAIR socket that
    ingest has bound, and everything (batches, task requests, "stop",
    "busy") travels over it. This
    module starts such a thread with its pipe connected, and joins it. */
#ifndef ONENET_WORKER_H
#define ONENET_WORKER_H

typedef struct worker worker_t;

/* The thread's body: runs until it decides to return (on "stop"). pipe
   is connected; it is closed after body returns. */
typedef void (*worker_body_fn) (void *pipe, void *arg);

/* Starts body(pipe, arg) in a new thread whose PAIR socket connects to
   endpoint (already bound by the caller) in zmq_ctx. NULL if the thread
   cannot start. */
worker_t *worker_start (void *zmq_ctx, const char *endpoint, worker_body_fn body,
                        void *arg);

/* Waits for the thread to return, frees it and sets *self_p to NULL. */
void worker_join (worker_t **self_p);

#endif
