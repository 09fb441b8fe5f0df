/*  hub_client: how hubctl talks ZeroMQ to a hub: CURVE with the operator's
    key when it is configured, plaintext (loopback only) when not; and the
    one-request exchange with the control socket. See hubctl.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "curve_key.h"
#include "hubctl.h"

int
hubctl_secure_socket (const hubctl_options_t *options, void *socket, const char *endpoint,
                      char *err, size_t errlen)
{
    const char *hub_key = options->hub_public_key ? options->hub_public_key : "";
    const char *secret = options->secret_key ? options->secret_key : "";
    char why[1024];
    if (curve_client_check (endpoint, hub_key, secret, false, why, sizeof why) != 0
        || (*hub_key
            && curve_client_setup (socket, hub_key, secret, why, sizeof why) != 0)) {
        snprintf (err, errlen, "%s", why);
        return -1;
    }
    return 0;
}

char *
hubctl_ask_hub (const hubctl_options_t *options, const char *endpoint, const char *request,
                int timeout_ms, char *err, size_t errlen)
{
    void *ctx = zmq_ctx_new ();
    void *req = zmq_socket (ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt (req, ZMQ_LINGER, &zero, sizeof zero);
    char *answer = NULL;
    *err = '\0';
    if (hubctl_secure_socket (options, req, endpoint, err, errlen) != 0)
        ;
    else if (zmq_connect (req, endpoint) != 0)
        snprintf (err, errlen, "cannot connect to %s: %s", endpoint,
                  zmq_strerror (zmq_errno ()));
    else if (zmq_send (req, request, strlen (request), 0) == (int) strlen (request)) {
        zmq_pollitem_t item = {req, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, timeout_ms) > 0) {
            zmq_msg_t msg;
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, req, 0) >= 0) {
                answer = malloc (zmq_msg_size (&msg) + 1);
                if (!answer)
                    abort ();
                memcpy (answer, zmq_msg_data (&msg), zmq_msg_size (&msg));
                answer[zmq_msg_size (&msg)] = '\0';
            }
            zmq_msg_close (&msg);
        }
        if (!answer)
            snprintf (err, errlen, "the hub does not answer on %s%s", endpoint,
                      options->hub_public_key && *options->hub_public_key
                          ? " (is it running, and is this operator key in its "
                            "authorised-keys file, not retired? its log names refused keys)"
                          : " (is it running? without --secret-key and --hub-public-key, "
                            "hubctl speaks plaintext, which only a hub run with --insecure "
                            "accepts)");
    }
    zmq_close (req);
    zmq_ctx_term (ctx);
    return answer;
}
