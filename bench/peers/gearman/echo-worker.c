/* SPDX-License-Identifier: ISC */
/*
 * A gearman worker doing what examples/echo-worker does: the job's result is
 * its workload, after --work-us microseconds of CPU. Written against
 * libgearman (Debian's libgearman-dev) the way its documentation shows:
 * one function registered with gearman_worker_add_function, then
 * gearman_worker_work in a loop. One job at a time, as every gearman worker.
 *
 *   gearman-echo-worker [--host H] [--port P] [--function NAME] [--work-us N]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libgearman/gearman.h>

static long work_us;

/* The same CPU burn as examples/echo-worker.c: thread CPU time, not wall time. */
static void do_work(void)
{
    struct timespec start, now;
    volatile uint64_t x = 88172645463325252ULL;

    if (work_us <= 0)
        return;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    do {
        for (int i = 0; i < 256; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 <
             work_us);
}

static void *echo(gearman_job_st *job, void *context, size_t *result_size,
                  gearman_return_t *ret_ptr)
{
    size_t n = gearman_job_workload_size(job);
    void *out = malloc(n > 0 ? n : 1);

    (void)context;
    do_work();
    if (out == NULL) {
        *ret_ptr = GEARMAN_WORK_FAIL;
        return NULL;
    }
    memcpy(out, gearman_job_workload(job), n);
    *result_size = n;
    *ret_ptr = GEARMAN_SUCCESS;
    return out; /* libgearman frees it */
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *function = "echo";
    in_port_t port = 4730;
    gearman_worker_st *w;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
            host = argv[++i];
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = (in_port_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--function") == 0 && i + 1 < argc)
            function = argv[++i];
        else if (strcmp(argv[i], "--work-us") == 0 && i + 1 < argc)
            work_us = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: gearman-echo-worker [--host H] [--port P] [--function NAME] "
                            "[--work-us N]\n");
            return 2;
        }
    }
    if ((w = gearman_worker_create(NULL)) == NULL ||
        gearman_worker_add_server(w, host, port) != GEARMAN_SUCCESS ||
        gearman_worker_add_function(w, function, 0, echo, NULL) != GEARMAN_SUCCESS) {
        fprintf(stderr, "gearman-echo-worker: set-up failed\n");
        return 1;
    }
    for (;;) {
        gearman_return_t ret = gearman_worker_work(w);
        if (ret != GEARMAN_SUCCESS && ret != GEARMAN_IO_WAIT && ret != GEARMAN_NO_ACTIVE_FDS) {
            fprintf(stderr, "gearman-echo-worker: %s\n", gearman_worker_error(w));
            struct timespec ts = {0, 10000000}; /* the server restarts: try again shortly */
            nanosleep(&ts, NULL);
        }
    }
}
