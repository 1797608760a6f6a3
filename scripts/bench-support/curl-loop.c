/* curl-loop: the raw libcurl multi loop of `pinguin-bench checkers` (scripts/bench checkers).
 *
 *   curl-loop fetch [options] URL...   the ceiling for pinguin-check-http: COUNT fetches, CONCURRENCY
 *                                      in flight on one multi handle, a new easy handle and a fresh
 *                                      connection per fetch, with the options the plugin sets for a
 *                                      default config (see set_fetch_options)
 *   curl-loop probe [options] URL...   the load generator for blackbox_exporter: GET /probe over
 *                                      kept-alive connections; a probe counts as ok when the answer
 *                                      says `probe_success 1`
 *
 * Options: --count N (measured), --warmup N (run first, not measured), --concurrency N,
 * --cainfo FILE, --no-capath-null (keep libcurl's default CA path: the CA store is then read per
 * connection), --no-certinfo, --timeout-ms N, --max-body N.
 *
 * Prints one line: completed=N ok=N failed=N wall_s=S cpu_s=S first_error=TEXT, where cpu_s is
 * this process's utime+stime from /proc/self/stat over the measured part only.
 * Build: cc -O2 -o curl-loop curl-loop.c -lcurl
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum mode { FETCH, PROBE };

struct options {
    enum mode mode;
    long count, warmup, concurrency, timeout_ms, max_body;
    const char *cainfo;
    int capath_null, certinfo;
    char **urls;
    int url_count;
};

struct transfer {
    CURL *easy;
    char *body;
    size_t body_len, body_cap;
    long max_body;
    int too_large;
    long header_lines;
    char error[CURL_ERROR_SIZE];
};

struct totals {
    long completed, ok, failed;
    char first_error[320];
};

static double cpu_seconds(void) {
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    /* After ") ": state is field 3; utime and stime are fields 14 and 15. */
    unsigned long utime = 0, stime = 0;
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field == 14) utime = strtoul(tok, NULL, 10);
        if (field == 15) { stime = strtoul(tok, NULL, 10); break; }
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t on_body(char *data, size_t size, size_t count, void *context) {
    struct transfer *t = context;
    size_t len = size * count;
    if (t->max_body > 0 && (long)(t->body_len + len) > t->max_body) { t->too_large = 1; return 0; }
    if (t->body_len + len > t->body_cap) {
        size_t cap = t->body_cap ? t->body_cap * 2 : 4096;
        while (cap < t->body_len + len) cap *= 2;
        t->body = realloc(t->body, cap);
        t->body_cap = cap;
    }
    memcpy(t->body + t->body_len, data, len);
    t->body_len += len;
    return len;
}

static size_t on_header(char *data, size_t size, size_t count, void *context) {
    (void)data;
    ((struct transfer *)context)->header_lines++;
    return size * count;
}

/* What pinguin-check-http sets for `{"ca_file": …}` and nothing else (HTTPCheck.configure). */
static void set_fetch_options(CURL *easy, const struct options *o, struct curl_slist *headers) {
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "pinguin-check-http/1.0");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (o->cainfo) curl_easy_setopt(easy, CURLOPT_CAINFO, o->cainfo);
    if (o->capath_null) curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    if (o->certinfo) curl_easy_setopt(easy, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    if (o->max_body > 0) curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
}

static struct transfer *start(CURLM *multi, const struct options *o, long index, struct curl_slist *headers) {
    struct transfer *t = calloc(1, sizeof *t);
    t->easy = curl_easy_init();
    t->max_body = o->mode == FETCH ? o->max_body : 0;
    curl_easy_setopt(t->easy, CURLOPT_URL, o->urls[index % o->url_count]);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    if (o->mode == FETCH) {
        set_fetch_options(t->easy, o, headers);
    } else {
        curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    }
    curl_multi_add_handle(multi, t->easy);
    return t;
}

static void finish(CURLM *multi, CURL *easy, CURLcode code, const struct options *o, struct totals *totals) {
    struct transfer *t;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    int ok = code == CURLE_OK && status >= 200 && status < 400;
    if (ok && o->mode == PROBE) {
        ok = t->body_len > 0 && memmem(t->body, t->body_len, "\nprobe_success 1\n", 17) != NULL;
        if (!ok && !totals->first_error[0]) snprintf(totals->first_error, sizeof totals->first_error, "probe failed (status %ld)", status);
    }
    if (!ok && !totals->first_error[0])
        snprintf(totals->first_error, sizeof totals->first_error, "%s (status %ld)", t->error[0] ? t->error : curl_easy_strerror(code), status);
    totals->completed++;
    if (ok) totals->ok++; else totals->failed++;
    curl_multi_remove_handle(multi, easy);
    curl_easy_cleanup(easy);
    free(t->body);
    free(t);
}

/* `total` transfers with at most `concurrency` in flight, driven by curl_multi_perform/poll as
 * pinguin-check-http's loop does. */
static void run(CURLM *multi, const struct options *o, long total, struct totals *totals, struct curl_slist *headers) {
    long started = 0, in_flight = 0;
    while (totals->completed < total) {
        while (in_flight < o->concurrency && started < total) {
            start(multi, o, started++, headers);
            in_flight++;
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        int queued = 0;
        CURLMsg *message;
        while ((message = curl_multi_info_read(multi, &queued))) {
            if (message->msg != CURLMSG_DONE) continue;
            finish(multi, message->easy_handle, message->data.result, o, totals);
            in_flight--;
        }
        if (in_flight >= o->concurrency || started >= total) curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
}

int main(int argc, char **argv) {
    struct options o = { .count = 10000, .warmup = 1000, .concurrency = 100, .timeout_ms = 10000, .max_body = 1 << 20,
                         .capath_null = 1, .certinfo = 1 };
    if (argc < 2) { fprintf(stderr, "usage: curl-loop fetch|probe [options] URL...\n"); return 2; }
    if (strcmp(argv[1], "fetch") == 0) o.mode = FETCH;
    else if (strcmp(argv[1], "probe") == 0) o.mode = PROBE;
    else { fprintf(stderr, "curl-loop: unknown mode %s\n", argv[1]); return 2; }
    int i = 2;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--no-capath-null") == 0) { o.capath_null = 0; continue; }
        if (strcmp(name, "--no-certinfo") == 0) { o.certinfo = 0; continue; }
        if (i + 1 >= argc) { fprintf(stderr, "curl-loop: %s needs a value\n", name); return 2; }
        const char *value = argv[++i];
        if (strcmp(name, "--count") == 0) o.count = atol(value);
        else if (strcmp(name, "--warmup") == 0) o.warmup = atol(value);
        else if (strcmp(name, "--concurrency") == 0) o.concurrency = atol(value);
        else if (strcmp(name, "--timeout-ms") == 0) o.timeout_ms = atol(value);
        else if (strcmp(name, "--max-body") == 0) o.max_body = atol(value);
        else if (strcmp(name, "--cainfo") == 0) o.cainfo = value;
        else { fprintf(stderr, "curl-loop: unknown option %s\n", name); return 2; }
    }
    if (i >= argc) { fprintf(stderr, "curl-loop: no URL\n"); return 2; }
    o.urls = argv + i;
    o.url_count = argc - i;

    curl_global_init(CURL_GLOBAL_ALL);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, o.mode == FETCH ? 256L : o.concurrency);
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");

    struct totals warm = {0}, measured = {0};
    run(multi, &o, o.warmup, &warm, headers);
    double cpu0 = cpu_seconds(), t0 = now_seconds();
    run(multi, &o, o.count, &measured, headers);
    double wall = now_seconds() - t0, cpu = cpu_seconds() - cpu0;
    printf("completed=%ld ok=%ld failed=%ld wall_s=%.4f cpu_s=%.4f first_error=%s\n", measured.completed, measured.ok,
           measured.failed, wall, cpu, measured.first_error[0] ? measured.first_error : (warm.first_error[0] ? warm.first_error : "-"));
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    return measured.failed == measured.completed ? 1 : 0;
}
