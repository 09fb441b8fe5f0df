/*  agency_worker: a thread that does the adapter's work in the agency's own
    PostgreSQL database, so that the loop serving the hub link never waits
    on it.

    Each agency connection (source-db, task-db) belongs to one worker; the
    worker runs one job at a time. The main loop hands a job over through a
    ZeroMQ inproc PAIR socket (the job's address travels, not a copy), polls
    the worker's socket next to the hub's, and takes the job back when it is
    done, results filled in. While a job runs the main loop only polls: it
    keeps sending, acknowledging and heartbeating however slow or hung the
    agency database is, and reads nothing of the job until it is back.

    A job is a struct whose first member is an agency_job_t: run is called on
    the worker thread, and everything else in the struct belongs to the
    worker until the job comes back. */
#ifndef ONENET_AGENCY_WORKER_H
#define ONENET_AGENCY_WORKER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct agency_job agency_job_t;
struct agency_job {
    void (*run) (agency_job_t *job); /* runs on the worker thread */
};

typedef struct agency_worker agency_worker_t;

/* Starts a worker thread; name ("source-db", "task-db") is for messages.
   NULL with a reason in err. */
agency_worker_t *agency_worker_new (void *zmq_ctx, const char *name, char *err,
                                    size_t errlen);

/* The socket to poll for ZMQ_POLLIN: a job is back. */
void *agency_worker_socket (agency_worker_t *self);

/* True while a job is with the worker. */
bool agency_worker_busy (const agency_worker_t *self);

/* Hands job to the worker, which must be idle. Returns 0, or -1 (the job
   stays the caller's). */
int agency_worker_submit (agency_worker_t *self, agency_job_t *job);

/* The job the worker finished, or NULL when it has none back yet (never
   waits). */
agency_job_t *agency_worker_take (agency_worker_t *self);

/* Stops the worker: it finishes the job in hand, if any, and ends. Waits
   up to timeout_ms. Returns true when the thread ended: the worker is
   freed and *job_back is the job it still had (NULL if none), for the
   caller to free. Returns false when the worker is still inside the agency
   database: it is then left running (and its job and everything the job
   touches must not be freed), for the process is about to end; the ZeroMQ
   context must then not be terminated, since that would wait for it. */
bool agency_worker_stop (agency_worker_t **self_p, int timeout_ms, agency_job_t **job_back);

#endif
