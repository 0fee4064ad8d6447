/*
 * loadgen: SSE subscriber / HTTP publisher load generator for the ssehub benchmarks.
 *
 *   loadgen sub --target 127.0.0.1:8080 --path '/events?channel=c%c' --conns 20000 --duration 60
 *   loadgen pub --target 127.0.0.1:8080 --path '/publish/c{c}' --body '{data}' --mode open --rate 1000
 *
 * The contract it implements is pinned in bench/loadgen/README.md (and the lead's bench contract):
 * event data is "s=<seq> t=<ns> xxxx..." where <ns> is CLOCK_MONOTONIC at the (scheduled) publish.
 *
 * Design (sub): the parent process creates one MAP_SHARED region, forks P workers and only
 * coordinates (progress lines, end of run, final JSON). Each worker owns connections i with
 * i % P == w and runs one level-triggered epoll loop over non-blocking sockets: connect (source
 * address bound first, IP_BIND_ADDRESS_NO_PORT so the port is picked per destination), write the
 * request, parse the response head, decode the body (chunked, Content-Length or close-delimited)
 * and feed a WHATWG SSE parser that keeps only bounded state per connection. Counters are copied
 * to the worker's shared slot after every loop iteration; the latency histogram at the end.
 *
 * Build: gcc -O2 -Wall -Wextra -o bench/.build/loadgen bench/loadgen/loadgen.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_TARGETS 64
#define MAX_SRC 256
#define MAX_HEADERS 64
#define MAX_PROCS 64
#define LINE_CAP 256        /* bytes of one SSE line kept (field name + start of value) */
#define ID_CAP 200          /* bytes of an `id:` value kept */
#define HDR_CAP 8192        /* response head limit */
#define REACH_N 65536       /* reach-all tracked for seqs 1..REACH_N on channel 0 */
#define H_BUCKETS 2368      /* log-linear histogram: values in ns, 64 sub-buckets per octave */
#define RBUF_SIZE 65536
#define MAX_EVENTS 1024
#define NS 1000000000ull

static volatile sig_atomic_t g_signal = 0;
static void on_signal(int sig) { g_signal = sig; }

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static void usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\n(run `loadgen --help` for usage)\n", stderr);
  va_end(ap);
  exit(1);
}

static void fatal(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(3);
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

/* ------------------------------------------------------------------------------------------ */
/* Histogram (log-linear, HdrHistogram-like): exact below 128 ns, then 64 linear sub-buckets per
 * power of two (<= 1.6% relative error, i.e. 2 significant digits) up to ~2^42 ns.             */

typedef struct {
  uint64_t counts[H_BUCKETS];
  uint64_t total;
  uint64_t max;
  double sum;
} hist_t;

static unsigned h_index(uint64_t v) {
  if (v < 128) return (unsigned)v;
  int msb = 63 - __builtin_clzll(v);
  unsigned shift = (unsigned)(msb - 6);
  unsigned idx = 128 + (shift - 1) * 64 + (unsigned)((v >> shift) - 64);
  return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static uint64_t h_value(unsigned idx) {
  if (idx < 128) return idx;
  unsigned shift = (idx - 128) / 64 + 1;
  uint64_t sub = (idx - 128) % 64 + 64;
  return (sub << shift) + ((1ull << shift) >> 1);
}

static void h_add(hist_t *h, uint64_t v) {
  h->counts[h_index(v)]++;
  h->total++;
  if (v > h->max) h->max = v;
  h->sum += (double)v;
}

static void h_merge(hist_t *into, const hist_t *from) {
  for (unsigned i = 0; i < H_BUCKETS; i++) into->counts[i] += from->counts[i];
  into->total += from->total;
  if (from->max > into->max) into->max = from->max;
  into->sum += from->sum;
}

static uint64_t h_quantile(const hist_t *h, double q) {
  if (h->total == 0) return 0;
  double want = q * (double)h->total; /* ceil without libm (the contract's gcc line has no -lm) */
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want) rank++;
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < H_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = h_value(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

/* ------------------------------------------------------------------------------------------ */
/* Addresses                                                                                   */

typedef struct {
  struct sockaddr_storage sa;
  socklen_t len;
  int family;
  char host[128]; /* HOST:PORT as given, for the Host header */
} target_t;

static void parse_target(const char *spec, target_t *t) {
  char buf[128];
  if (strlen(spec) >= sizeof buf - 1) usage_error("target too long: %s", spec);
  snprintf(t->host, sizeof t->host, "%s", spec);
  strcpy(buf, spec);
  char *host = buf, *port;
  if (buf[0] == '[') {
    char *close = strchr(buf, ']');
    if (!close || close[1] != ':') usage_error("bad target %s (expected [::1]:PORT)", spec);
    *close = 0;
    host = buf + 1;
    port = close + 2;
  } else {
    port = strrchr(buf, ':');
    if (!port) usage_error("bad target %s (expected HOST:PORT)", spec);
    *port++ = 0;
  }
  char *end;
  long p = strtol(port, &end, 10);
  if (*end || p <= 0 || p > 65535) usage_error("bad port in target %s", spec);
  memset(&t->sa, 0, sizeof t->sa);
  if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
  struct sockaddr_in *s4 = (struct sockaddr_in *)&t->sa;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->sa;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) usage_error("refusing non-loopback target %s", spec);
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)p);
    t->len = sizeof *s4;
    t->family = AF_INET;
  } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) usage_error("refusing non-loopback target %s", spec);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)p);
    t->len = sizeof *s6;
    t->family = AF_INET6;
  } else {
    usage_error("target host must be a loopback IP address or localhost: %s", spec);
  }
}

static int parse_targets(const char *list, target_t *out) {
  char buf[4096];
  if (strlen(list) >= sizeof buf) usage_error("--target list too long");
  strcpy(buf, list);
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (n >= MAX_TARGETS) usage_error("too many targets (max %d)", MAX_TARGETS);
    parse_target(tok, &out[n++]);
  }
  if (n == 0) usage_error("--target is required");
  return n;
}

static uint32_t parse_v4_loopback(const char *s) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) usage_error("bad --src address %s", s);
  uint32_t h = ntohl(a.s_addr);
  if ((h >> 24) != 127) usage_error("--src addresses must be 127.x.x.x: %s", s);
  return h;
}

/* "127.0.0.2-127.0.0.17" or "127.0.0.2,127.0.0.5" or "none"; returns count (host order) */
static int parse_src(const char *spec, uint32_t *out) {
  if (strcmp(spec, "none") == 0) return 0;
  char buf[4096];
  if (strlen(spec) >= sizeof buf) usage_error("--src too long");
  strcpy(buf, spec);
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    char *dash = strchr(tok, '-');
    uint32_t lo, hi;
    if (dash) {
      *dash = 0;
      lo = parse_v4_loopback(tok);
      hi = parse_v4_loopback(dash + 1);
    } else {
      lo = hi = parse_v4_loopback(tok);
    }
    if (hi < lo) usage_error("bad --src range");
    for (uint32_t a = lo; a <= hi; a++) {
      if (n >= MAX_SRC) usage_error("too many --src addresses (max %d)", MAX_SRC);
      out[n++] = a;
    }
  }
  return n;
}

/* ------------------------------------------------------------------------------------------ */
/* Option helpers                                                                              */

static double parse_num(const char *name, const char *v, double min, double max) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= min && d <= max))
    usage_error("%s expects a number in [%g, %g], got '%s'", name, min, max, v);
  return d;
}

static void check_header(const char *h) {
  if (strpbrk(h, "\r\n")) usage_error("--header must not contain CR/LF");
  const char *colon = strchr(h, ':');
  if (!colon || colon == h) usage_error("--header expects 'Name: value', got '%s'", h);
}

/* Iterates "--name value" / "--name=value" pairs. */
typedef struct {
  int argc, i;
  char **argv;
  char name[64];
  const char *value;
} argiter_t;

static int arg_next(argiter_t *it) {
  if (it->i >= it->argc) return 0;
  const char *a = it->argv[it->i++];
  if (strncmp(a, "--", 2) != 0) usage_error("unexpected argument '%s'", a);
  const char *eq = strchr(a, '=');
  size_t nl = eq ? (size_t)(eq - a) : strlen(a);
  if (nl >= sizeof it->name) usage_error("unknown option %s", a);
  memcpy(it->name, a, nl);
  it->name[nl] = 0;
  if (eq) {
    it->value = eq + 1;
  } else {
    if (it->i >= it->argc) usage_error("%s needs a value", it->name);
    it->value = it->argv[it->i++];
  }
  return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP response head parsing (shared by sub and pub)                                          */

typedef struct {
  int status;
  int chunked;
  int64_t content_length; /* -1 when absent */
  int conn_close;
} head_t;

/* Returns the length of the head including its terminator, 0 if incomplete. */
static size_t head_end(const char *buf, size_t len, size_t from) {
  size_t i = from > 3 ? from - 3 : 0;
  for (; i < len; i++) {
    if (buf[i] != '\n') continue;
    if (i + 1 < len && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return 0;
}

static int value_has_token(const char *v, size_t n, const char *tok) {
  size_t tl = strlen(tok);
  for (size_t i = 0; i + tl <= n; i++)
    if (strncasecmp(v + i, tok, tl) == 0) return 1;
  return 0;
}

/* Parses "HTTP/1.x NNN ...\r\nName: value\r\n...\r\n\r\n"; -1 on a malformed head. */
static int parse_head(const char *buf, size_t len, head_t *h) {
  h->status = 0;
  h->chunked = 0;
  h->content_length = -1;
  h->conn_close = 0;
  if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) return -1;
  if (buf[8] != ' ' || buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0' ||
      buf[11] > '9')
    return -1;
  h->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
  if (buf[7] == '0') h->conn_close = 1; /* HTTP/1.0 defaults to close */
  const char *p = memchr(buf, '\n', len);
  const char *end = buf + len;
  while (p && p + 1 < end) {
    const char *line = p + 1;
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    if (!nl) break;
    const char *le = nl;
    if (le > line && le[-1] == '\r') le--;
    const char *colon = memchr(line, ':', (size_t)(le - line));
    if (colon) {
      size_t nlen = (size_t)(colon - line);
      const char *v = colon + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      size_t vlen = (size_t)(le - v);
      if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
        if (value_has_token(v, vlen, "chunked")) h->chunked = 1;
      } else if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
        int64_t cl = 0;
        size_t k = 0;
        for (; k < vlen && v[k] >= '0' && v[k] <= '9'; k++) {
          cl = cl * 10 + (v[k] - '0');
          if (cl > ((int64_t)1 << 50)) return -1;
        }
        if (k == 0) return -1;
        h->content_length = cl;
      } else if (nlen == 10 && strncasecmp(line, "connection", 10) == 0) {
        if (value_has_token(v, vlen, "close")) h->conn_close = 1;
        if (value_has_token(v, vlen, "keep-alive")) h->conn_close = 0;
      }
    }
    p = nl;
  }
  if (h->chunked) h->content_length = -1;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Chunked transfer decoding (incremental, bounded state)                                      */

enum { CK_SIZE, CK_EXT, CK_DATA, CK_DATA_CR, CK_DATA_LF, CK_TRAILER };

typedef struct {
  uint8_t st;
  uint8_t flag; /* CK_SIZE/CK_EXT: a digit was seen; CK_TRAILER: the current line is empty */
  uint64_t left;
} chunk_t;

typedef void (*sink_fn)(void *ctx, const char *p, size_t n);

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Returns -1 on a protocol error, 1 when the body ended (*used = bytes consumed), else 0. */
static int chunk_feed(chunk_t *ck, const char *p, size_t n, size_t *used, sink_fn sink, void *ctx) {
  size_t i = 0;
  while (i < n) {
    char ch = p[i];
    switch (ck->st) {
      case CK_SIZE: {
        int v = hexval(ch);
        if (v >= 0) {
          if (ck->left > ((uint64_t)1 << 40)) return -1;
          ck->left = ck->left * 16 + (uint64_t)v;
          ck->flag = 1;
        } else if (ch == ';' || ch == ' ' || ch == '\t') {
          ck->st = CK_EXT;
        } else if (ch == '\n') {
          if (!ck->flag) return -1;
          if (ck->left == 0) {
            ck->st = CK_TRAILER;
            ck->flag = 1;
          } else {
            ck->st = CK_DATA;
          }
        } else if (ch != '\r') {
          return -1;
        }
        i++;
        break;
      }
      case CK_EXT:
        if (ch == '\n') {
          if (!ck->flag) return -1;
          if (ck->left == 0) {
            ck->st = CK_TRAILER;
            ck->flag = 1;
          } else {
            ck->st = CK_DATA;
          }
        }
        i++;
        break;
      case CK_DATA: {
        size_t take = n - i;
        if ((uint64_t)take > ck->left) take = (size_t)ck->left;
        if (sink) sink(ctx, p + i, take);
        ck->left -= take;
        i += take;
        if (ck->left == 0) ck->st = CK_DATA_CR;
        break;
      }
      case CK_DATA_CR:
        if (ch == '\r') {
          ck->st = CK_DATA_LF;
        } else if (ch == '\n') {
          ck->st = CK_SIZE;
          ck->flag = 0;
          ck->left = 0;
        } else {
          return -1;
        }
        i++;
        break;
      case CK_DATA_LF:
        if (ch != '\n') return -1;
        ck->st = CK_SIZE;
        ck->flag = 0;
        ck->left = 0;
        i++;
        break;
      case CK_TRAILER:
        i++;
        if (ch == '\n') {
          if (ck->flag) {
            *used = i;
            return 1;
          }
          ck->flag = 1;
        } else if (ch != '\r') {
          ck->flag = 0;
        }
        break;
      default:
        return -1;
    }
  }
  *used = n;
  return 0;
}

/* ========================================================================================== */
/* SUB mode                                                                                   */
/* ========================================================================================== */

typedef struct {
  target_t targets[MAX_TARGETS];
  int ntargets;
  const char *path;
  long channels;
  long conns;
  int procs;
  uint32_t src[MAX_SRC];
  int nsrc;
  const char *headers[MAX_HEADERS];
  int nheaders;
  double connect_rate;
  double duration;
  long until_events;
  double stall_fraction;
  const char *last_event_id;
  double reconnect_at; /* < 0: none */
  const char *record_ids;
  long report_ms;
  double connect_timeout;
} sub_opts_t;

static sub_opts_t so;

/* Per-worker counters in shared memory; written by the worker only. */
typedef struct {
  uint64_t connected_now, connected_ever, settled, failed, closed_unexpected, protocol_errors;
  uint64_t events, other, comments, bytes, gaps, dups, done, phase, live;
  uint64_t complete_ns, cpu_ns, cpu_user_ns, cpu_sys_ns, finished, ids_truncated, started;
  uint64_t fail_reasons[9];
  hist_t hist;
} wstat_t;

typedef struct {
  int stop;
  uint64_t t0;
  uint32_t reach_count[REACH_N + 1];
  uint64_t reach_last[REACH_N + 1];
  uint64_t reach_t[REACH_N + 1];
  wstat_t w[];
} shared_t;

/* Why connection attempts failed (final JSON `fail_reasons`). */
enum { FR_TIMEOUT = -1, FR_STATUS = -2, FR_PROTOCOL = -3, FR_EOF = -4 };
#define N_REASONS 9
static const char *REASON_NAMES[N_REASONS] = {"timeout", "refused", "reset",    "addr", "files",
                                              "status",  "protocol", "eof", "other"};
static int reason_bucket(int err) {
  switch (err) {
    case FR_TIMEOUT:
    case ETIMEDOUT:
      return 0;
    case ECONNREFUSED:
      return 1;
    case ECONNRESET:
    case EPIPE:
      return 2;
    case EADDRNOTAVAIL:
    case EADDRINUSE:
      return 3;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return 4;
    case FR_STATUS:
      return 5;
    case FR_PROTOCOL:
      return 6;
    case FR_EOF:
      return 7;
    default:
      return 8;
  }
}

static shared_t *sh;
static uint64_t g_listeners0; /* non-stalled connections on channel 0 */

enum { S_IDLE, S_CONNECTING, S_SENDING, S_HEADERS, S_BODY, S_STALLED, S_DEAD };
enum { B_CLOSE, B_CHUNKED, B_LENGTH };

typedef struct {
  int fd;
  uint32_t gen;
  uint32_t index;
  uint32_t channel;
  uint8_t state, stalled, body, connected, settled, done, src_tries, src;
  uint8_t target, cr, bom, trunc, has_data, bench, have_id, id_set;
  uint16_t req_off, line_len;
  uint8_t id_len, last_id_len;
  chunk_t ck;
  uint64_t left; /* B_LENGTH */
  uint64_t started_ns;
  uint64_t prev_seq, ev_seq, ev_t, phase_events;
  char *hdr;
  uint16_t hdr_len;
  char line[LINE_CAP];
  char id_buf[ID_CAP];
  char last_id[ID_CAP];
} conn_t;

typedef struct {
  uint64_t connected_now, connected_ever, settled, failed, closed_unexpected, protocol_errors;
  uint64_t events, other, comments, bytes, gaps, dups, done, phase, live, complete_ns, ids_truncated;
  uint64_t fail_reasons[9];
} wlocal_t;

static wlocal_t L;
static hist_t *g_hist;
static FILE *g_rec;
static int g_ep;
static int g_worker;
static uint64_t g_now;
static char g_rbuf[RBUF_SIZE];
static char g_req[8192];

static void publish_stats(void) {
  wstat_t *s = &sh->w[g_worker];
#define PUB(f) __atomic_store_n(&s->f, L.f, __ATOMIC_RELAXED)
  PUB(connected_now);
  PUB(connected_ever);
  PUB(settled);
  PUB(failed);
  PUB(closed_unexpected);
  PUB(protocol_errors);
  PUB(events);
  PUB(other);
  PUB(comments);
  PUB(bytes);
  PUB(gaps);
  PUB(dups);
  PUB(done);
  PUB(phase);
  PUB(live);
  PUB(complete_ns);
  PUB(ids_truncated);
  for (int r = 0; r < N_REASONS; r++) PUB(fail_reasons[r]);
#undef PUB
}

static void publish_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  wstat_t *s = &sh->w[g_worker];
  uint64_t u = (uint64_t)ru.ru_utime.tv_sec * NS + (uint64_t)ru.ru_utime.tv_usec * 1000;
  uint64_t y = (uint64_t)ru.ru_stime.tv_sec * NS + (uint64_t)ru.ru_stime.tv_usec * 1000;
  __atomic_store_n(&s->cpu_user_ns, u, __ATOMIC_RELAXED);
  __atomic_store_n(&s->cpu_sys_ns, y, __ATOMIC_RELAXED);
  __atomic_store_n(&s->cpu_ns, u + y, __ATOMIC_RELAXED);
}

static int is_stalled(uint64_t i) {
  if (so.stall_fraction <= 0) return 0;
  /* evenly spread: connection i stalls when floor((i+1)F) > floor(iF); the casts truncate = floor */
  return (uint64_t)((double)(i + 1) * so.stall_fraction) > (uint64_t)((double)i * so.stall_fraction);
}

static size_t build_sub_request(conn_t *c) {
  size_t n = 0, cap = sizeof g_req;
  n += (size_t)snprintf(g_req + n, cap - n, "GET ");
  for (const char *p = so.path; *p && n < cap - 64; p++) {
    if (p[0] == '%' && p[1] == 'c') {
      n += (size_t)snprintf(g_req + n, cap - n, "%u", c->channel);
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      g_req[n++] = '%';
      p++;
    } else {
      g_req[n++] = *p;
    }
  }
  n += (size_t)snprintf(g_req + n, cap - n,
                        " HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n",
                        so.targets[c->target].host);
  for (int h = 0; h < so.nheaders && n < cap; h++) n += (size_t)snprintf(g_req + n, cap - n, "%s\r\n", so.headers[h]);
  if (n < cap) {
    if (c->id_set) {
      n += (size_t)snprintf(g_req + n, cap - n, "Last-Event-ID: %.*s\r\n", (int)c->last_id_len, c->last_id);
    } else if (so.last_event_id) {
      n += (size_t)snprintf(g_req + n, cap - n, "Last-Event-ID: %s\r\n", so.last_event_id);
    }
  }
  if (n < cap) n += (size_t)snprintf(g_req + n, cap - n, "\r\n");
  if (n >= cap) fatal("request too large");
  return n;
}

static void conn_release(conn_t *c) {
  if (c->fd >= 0) close(c->fd); /* close() also removes it from the epoll set */
  c->fd = -1;
  c->gen++;
  free(c->hdr);
  c->hdr = NULL;
  c->hdr_len = 0;
  if (c->connected) {
    c->connected = 0;
    L.connected_now--;
  }
}

static void settle(conn_t *c) {
  if (!c->settled) {
    c->settled = 1;
    L.settled++;
  }
}

static void conn_fail(conn_t *c, int err) {
  L.fail_reasons[reason_bucket(err)]++;
  conn_release(c);
  c->state = S_DEAD;
  L.failed++;
  L.live--;
  settle(c);
}

/* The server ended an established stream (EOF, reset, end of body, protocol error). */
static void conn_lost(conn_t *c, int err) {
  if (c->state == S_BODY || c->state == S_STALLED) {
    conn_release(c);
    c->state = S_DEAD;
    L.closed_unexpected++;
    L.live--;
  } else {
    conn_fail(c, err);
  }
}

static int ep_ctl(int op, conn_t *c, uint32_t events) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.u64 = (uint64_t)c->index | ((uint64_t)c->gen << 32);
  return epoll_ctl(g_ep, op, c->fd, &ev);
}

static void conn_send(conn_t *c);

static void conn_start(conn_t *c) {
  const target_t *t = &so.targets[c->target];
  for (;;) {
    int fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      int e = errno;
      static int warned;
      if (!warned++) fprintf(stderr, "loadgen: socket(): %s\n", strerror(e));
      c->fd = -1;
      conn_fail(c, e);
      return;
    }
    c->fd = fd;
    c->started_ns = g_now;
    if (t->family == AF_INET && so.nsrc > 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      struct sockaddr_in sa;
      memset(&sa, 0, sizeof sa);
      sa.sin_family = AF_INET;
      sa.sin_addr.s_addr = htonl(so.src[c->src % so.nsrc]);
      if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int bind_err = errno;
        close(fd);
        c->fd = -1;
        if ((bind_err == EADDRINUSE || bind_err == EADDRNOTAVAIL) && ++c->src_tries < so.nsrc) {
          c->src = (uint8_t)((c->src + 1) % so.nsrc);
          continue;
        }
        conn_fail(c, bind_err);
        return;
      }
    }
    int r;
    do r = connect(fd, (const struct sockaddr *)&t->sa, t->len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && errno != EINPROGRESS) {
      int e = errno;
      close(fd);
      c->fd = -1;
      if ((e == EADDRNOTAVAIL || e == EADDRINUSE) && so.nsrc > 0 && ++c->src_tries < so.nsrc) {
        c->src = (uint8_t)((c->src + 1) % so.nsrc);
        continue;
      }
      conn_fail(c, e);
      return;
    }
    c->req_off = 0;
    if (r == 0) {
      c->state = S_SENDING;
      if (ep_ctl(EPOLL_CTL_ADD, c, EPOLLOUT) < 0) {
        conn_fail(c, errno);
        return;
      }
      conn_send(c);
    } else {
      c->state = S_CONNECTING;
      if (ep_ctl(EPOLL_CTL_ADD, c, EPOLLOUT) < 0) conn_fail(c, errno);
    }
    return;
  }
}

static void conn_send(conn_t *c) {
  size_t len = build_sub_request(c);
  while (c->req_off < len) {
    ssize_t w = send(c->fd, g_req + c->req_off, len - c->req_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return; /* stay on EPOLLOUT */
      conn_fail(c, errno);
      return;
    }
    c->req_off = (uint16_t)(c->req_off + (size_t)w);
  }
  c->state = S_HEADERS;
  c->hdr = malloc(HDR_CAP);
  if (!c->hdr) fatal("out of memory");
  c->hdr_len = 0;
  if (ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN) < 0) conn_fail(c, errno);
}

/* ---- SSE parsing ---- */

static void reach_update(uint64_t seq, uint64_t t) {
  __atomic_store_n(&sh->reach_t[seq], t, __ATOMIC_RELAXED);
  uint64_t cur = __atomic_load_n(&sh->reach_last[seq], __ATOMIC_RELAXED);
  while (g_now > cur &&
         !__atomic_compare_exchange_n(&sh->reach_last[seq], &cur, g_now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  __atomic_fetch_add(&sh->reach_count[seq], 1, __ATOMIC_RELAXED);
}

static void bench_event(conn_t *c, uint64_t seq, uint64_t t) {
  L.events++;
  h_add(g_hist, g_now > t ? g_now - t : 0);
  int fresh = 1;
  if (c->prev_seq != 0) {
    if (seq <= c->prev_seq) {
      L.dups++;
      fresh = 0;
    } else if (seq > c->prev_seq + 1) {
      L.gaps += seq - c->prev_seq - 1;
    }
  }
  if (g_rec && c->index == 0) fprintf(g_rec, "%llu %.*s\n", (unsigned long long)seq, (int)c->last_id_len, c->last_id);
  if (!fresh) return;
  c->prev_seq = seq;
  c->phase_events++;
  if (c->channel == 0 && seq >= 1 && seq <= REACH_N) reach_update(seq, t);
  if (so.until_events > 0 && !c->done && c->phase_events >= (uint64_t)so.until_events &&
      (so.reconnect_at < 0 || L.phase == 1)) {
    c->done = 1;
    L.done++;
    if (g_now > L.complete_ns) L.complete_ns = g_now;
  }
}

/* Parses "s=<digits> t=<digits>" at the start of the first data line. */
static void parse_bench_data(conn_t *c, const char *v, size_t n) {
  c->bench = 0;
  if (n < 2 || v[0] != 's' || v[1] != '=') return;
  size_t i = 2;
  uint64_t s = 0, t = 0;
  size_t d0 = i;
  while (i < n && v[i] >= '0' && v[i] <= '9' && i - d0 < 19) s = s * 10 + (uint64_t)(v[i++] - '0');
  if (i == d0 || i + 3 > n || v[i] != ' ' || v[i + 1] != 't' || v[i + 2] != '=') return;
  i += 3;
  d0 = i;
  while (i < n && v[i] >= '0' && v[i] <= '9' && i - d0 < 20) t = t * 10 + (uint64_t)(v[i++] - '0');
  if (i == d0) return;
  if (i < n && v[i] != ' ') return;
  c->bench = 1;
  c->ev_seq = s;
  c->ev_t = t;
}

static void sse_dispatch(conn_t *c) {
  /* WHATWG: the last event ID string takes the buffer's value on every dispatch. */
  if (c->have_id) {
    memcpy(c->last_id, c->id_buf, c->id_len);
    c->last_id_len = c->id_len;
    c->id_set = 1;
  }
  if (!c->has_data) return;
  if (c->bench) {
    bench_event(c, c->ev_seq, c->ev_t);
  } else {
    L.other++;
  }
  c->has_data = 0;
  c->bench = 0;
}

static void sse_line(conn_t *c) {
  const char *l = c->line;
  size_t n = c->line_len;
  if (n == 0 && !c->trunc) {
    sse_dispatch(c);
    return;
  }
  if (l[0] == ':') {
    L.comments++;
    return;
  }
  const char *colon = memchr(l, ':', n);
  size_t nlen;
  const char *v;
  size_t vlen;
  if (colon) {
    nlen = (size_t)(colon - l);
    v = colon + 1;
    vlen = n - nlen - 1;
    if (vlen > 0 && v[0] == ' ') {
      v++;
      vlen--;
    }
  } else {
    if (c->trunc) return; /* field name longer than LINE_CAP: not a field we know */
    nlen = n;
    v = l + n;
    vlen = 0;
  }
  if (nlen == 4 && memcmp(l, "data", 4) == 0) {
    if (!c->has_data) parse_bench_data(c, v, vlen);
    c->has_data = 1;
  } else if (nlen == 2 && memcmp(l, "id", 2) == 0) {
    if (memchr(v, 0, vlen)) return; /* an id containing NULL is ignored */
    if (c->trunc || vlen > ID_CAP) {
      L.ids_truncated++;
      if (vlen > ID_CAP) vlen = ID_CAP;
    }
    memcpy(c->id_buf, v, vlen);
    c->id_len = (uint8_t)vlen;
    c->have_id = 1;
  }
  /* `event`, `retry` and unknown fields do not change what is counted. */
}

static void sse_feed(void *ctx, const char *p, size_t n) {
  conn_t *c = ctx;
  size_t i = 0;
  static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
  while (c->bom < 3 && i < n) { /* a UTF-8 BOM at the very start of the stream is skipped */
    if ((unsigned char)p[i] == bom[c->bom]) {
      c->bom++;
      i++;
      continue;
    }
    for (uint8_t k = 0; k < c->bom && c->line_len < LINE_CAP; k++) c->line[c->line_len++] = (char)bom[k];
    c->bom = 3;
  }
  while (i < n) {
    if (c->cr) {
      c->cr = 0;
      if (p[i] == '\n') {
        i++;
        continue;
      }
    }
    const char *s = p + i;
    size_t rem = n - i;
    const char *lf = memchr(s, '\n', rem);
    size_t lim = lf ? (size_t)(lf - s) : rem;
    const char *cr = memchr(s, '\r', lim);
    const char *eol = cr ? cr : lf;
    size_t k = eol ? (size_t)(eol - s) : rem;
    size_t room = LINE_CAP - c->line_len;
    if (k > room) {
      memcpy(c->line + c->line_len, s, room);
      c->line_len = LINE_CAP;
      c->trunc = 1;
    } else {
      memcpy(c->line + c->line_len, s, k);
      c->line_len = (uint16_t)(c->line_len + k);
    }
    i += k;
    if (eol) {
      if (*eol == '\r') c->cr = 1;
      i++;
      sse_line(c);
      c->line_len = 0;
      c->trunc = 0;
    }
  }
}

/* ---- connection I/O ---- */

static int body_feed(conn_t *c, const char *p, size_t n) {
  if (c->stalled) return 0;
  switch (c->body) {
    case B_CHUNKED: {
      size_t used;
      int r = chunk_feed(&c->ck, p, n, &used, sse_feed, c);
      if (r < 0) L.protocol_errors++;
      return r != 0 ? -1 : 0;
    }
    case B_LENGTH: {
      size_t take = (uint64_t)n > c->left ? (size_t)c->left : n;
      sse_feed(c, p, take);
      c->left -= take;
      return c->left == 0 ? -1 : 0;
    }
    default:
      sse_feed(c, p, n);
      return 0;
  }
}

static void on_headers(conn_t *c, size_t head_len) {
  head_t h;
  if (parse_head(c->hdr, head_len, &h) < 0) {
    L.protocol_errors++;
    conn_fail(c, FR_PROTOCOL);
    return;
  }
  if (h.status < 200 || h.status > 299) {
    conn_fail(c, FR_STATUS);
    return;
  }
  c->body = h.chunked ? B_CHUNKED : h.content_length >= 0 ? B_LENGTH : B_CLOSE;
  c->left = h.content_length >= 0 ? (uint64_t)h.content_length : 0;
  memset(&c->ck, 0, sizeof c->ck);
  c->cr = 0;
  c->bom = 0;
  c->line_len = 0;
  c->trunc = 0;
  c->has_data = 0;
  c->bench = 0;
  c->connected = 1;
  L.connected_now++;
  if (!c->settled) L.connected_ever++;
  settle(c);
  c->src_tries = 0;
  size_t extra = c->hdr_len - head_len;
  char tmp[HDR_CAP];
  memcpy(tmp, c->hdr + head_len, extra);
  free(c->hdr);
  c->hdr = NULL;
  c->hdr_len = 0;
  if (c->stalled) {
    epoll_ctl(g_ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->state = S_STALLED;
    return;
  }
  c->state = S_BODY;
  if (c->body == B_LENGTH && c->left == 0) {
    conn_lost(c, FR_EOF);
    return;
  }
  if (extra > 0 && body_feed(c, tmp, extra) < 0) conn_lost(c, FR_PROTOCOL);
}

static void conn_read(conn_t *c) {
  ssize_t r;
  do r = read(c->fd, g_rbuf, sizeof g_rbuf);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    conn_lost(c, errno);
    return;
  }
  if (r == 0) {
    conn_lost(c, FR_EOF);
    return;
  }
  L.bytes += (uint64_t)r;
  g_now = now_ns();
  if (c->state == S_HEADERS) {
    size_t room = HDR_CAP - c->hdr_len;
    size_t take = (size_t)r < room ? (size_t)r : room;
    size_t from = c->hdr_len;
    memcpy(c->hdr + c->hdr_len, g_rbuf, take);
    c->hdr_len = (uint16_t)(c->hdr_len + take);
    size_t he = head_end(c->hdr, c->hdr_len, from);
    if (!he) {
      if (c->hdr_len >= HDR_CAP) {
        L.protocol_errors++;
        conn_fail(c, FR_PROTOCOL);
      }
      return;
    }
    /* bytes of this read beyond what fitted in hdr (only possible when the head is near HDR_CAP) */
    size_t rest_off = take;
    on_headers(c, he);
    if (c->state == S_BODY && rest_off < (size_t)r && body_feed(c, g_rbuf + rest_off, (size_t)r - rest_off) < 0)
      conn_lost(c, FR_PROTOCOL);
    return;
  }
  if (body_feed(c, g_rbuf, (size_t)r) < 0) conn_lost(c, FR_PROTOCOL);
}

static void conn_event(conn_t *c, uint32_t events) {
  switch (c->state) {
    case S_CONNECTING: {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
      if (err == 0 && !(events & EPOLLOUT)) return;
      if (err) {
        if ((err == EADDRNOTAVAIL || err == EADDRINUSE) && so.nsrc > 0 && c->src_tries + 1 < so.nsrc) {
          conn_release(c);
          c->src_tries++;
          c->src = (uint8_t)((c->src + 1) % so.nsrc);
          conn_start(c);
          return;
        }
        conn_fail(c, err);
        return;
      }
      c->state = S_SENDING;
      conn_send(c);
      return;
    }
    case S_SENDING:
      conn_send(c);
      return;
    case S_HEADERS:
    case S_BODY:
      conn_read(c);
      return;
    default:
      return;
  }
}

static void reconnect_burst(conn_t *conns, uint32_t n) {
  L.phase = 1;
  L.done = 0;
  L.complete_ns = 0;
  for (uint32_t j = 0; j < n; j++) {
    conn_t *c = &conns[j];
    if (c->stalled && c->state != S_IDLE) continue;
    if (c->state != S_IDLE && c->state != S_DEAD) conn_release(c);
    if (c->state == S_DEAD) L.live++;
    c->done = 0;
    c->phase_events = 0;
    c->src_tries = 0;
    /* a partially received event is dropped, as a browser does on reconnect */
    c->has_data = 0;
    c->have_id = 0;
    conn_start(c);
  }
}

static int worker_sub(int w) {
  g_worker = w;
  g_hist = calloc(1, sizeof *g_hist);
  if (!g_hist) fatal("out of memory");
  uint32_t P = (uint32_t)so.procs;
  uint32_t n = (uint32_t)((so.conns - w + P - 1) / P);
  conn_t *conns = calloc(n ? n : 1, sizeof *conns);
  if (!conns) fatal("out of memory for %u connections", n);
  for (uint32_t j = 0; j < n; j++) {
    conn_t *c = &conns[j];
    uint64_t i = (uint64_t)w + (uint64_t)j * P;
    c->fd = -1;
    c->index = (uint32_t)i;
    c->channel = (uint32_t)(i % (uint64_t)so.channels);
    c->stalled = (uint8_t)is_stalled(i);
    c->target = (uint8_t)(i % (uint64_t)so.ntargets);
    c->src = so.nsrc ? (uint8_t)(i % (uint64_t)so.nsrc) : 0;
    c->state = S_IDLE;
  }
  L.live = n;
  publish_stats();
  __atomic_store_n(&sh->w[w].started, 1, __ATOMIC_RELEASE); /* `live` is meaningful from now on */
  g_ep = epoll_create1(EPOLL_CLOEXEC);
  if (g_ep < 0) fatal("epoll_create1: %s", strerror(errno));
  if (so.record_ids && w == 0) {
    g_rec = fopen(so.record_ids, "w");
    if (!g_rec) fatal("cannot open %s: %s", so.record_ids, strerror(errno));
  }
  /* the local index of a connection equals its global index / P, so spreading the global rate
   * evenly gives each worker rate / P */
  double rate = so.connect_rate > 0 ? so.connect_rate / (double)P : 0;
  uint64_t t0 = sh->t0;
  uint64_t reconnect_ns = so.reconnect_at >= 0 ? t0 + (uint64_t)(so.reconnect_at * 1e9) : 0;
  int reconnect_pending = so.reconnect_at >= 0;
  uint32_t next = 0;
  uint64_t next_cpu = 0, next_scan = 0;
  uint64_t timeout_ns = (uint64_t)(so.connect_timeout * 1e9);
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    g_now = now_ns();
    if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) break;
    if (reconnect_pending && g_now >= reconnect_ns) {
      reconnect_pending = 0;
      next = n;
      reconnect_burst(conns, n);
    }
    int batch = 0;
    while (next < n && batch < 512) {
      if (rate > 0 && (double)(g_now - t0) < (double)next / rate * 1e9) break;
      conn_start(&conns[next++]);
      batch++;
    }
    if (g_now >= next_scan) {
      next_scan = g_now + NS / 2;
      for (uint32_t j = 0; j < n; j++) {
        conn_t *c = &conns[j];
        if ((c->state == S_CONNECTING || c->state == S_SENDING || c->state == S_HEADERS) &&
            g_now - c->started_ns > timeout_ns)
          conn_fail(c, FR_TIMEOUT);
      }
    }
    if (g_now >= next_cpu) {
      next_cpu = g_now + NS / 10;
      publish_cpu();
    }
    publish_stats();
    int timeout_ms = 20;
    if (next < n) {
      if (batch >= 512 || rate <= 0) {
        timeout_ms = 0;
      } else {
        double due = (double)next / rate * 1e9 - (double)(g_now - t0);
        int ms = due <= 0 ? 0 : (int)(due / 1e6);
        if (ms < timeout_ms) timeout_ms = ms;
      }
    }
    int k = epoll_wait(g_ep, evs, MAX_EVENTS, timeout_ms);
    if (k < 0) {
      if (errno == EINTR) continue;
      fatal("epoll_wait: %s", strerror(errno));
    }
    for (int e = 0; e < k; e++) {
      uint64_t d = evs[e].data.u64;
      uint32_t idx = (uint32_t)d, gen = (uint32_t)(d >> 32);
      uint32_t j = idx / P;
      if (j >= n) continue;
      conn_t *c = &conns[j];
      if (c->gen != gen || c->fd < 0) continue;
      conn_event(c, evs[e].events);
    }
  }
  if (g_rec) fclose(g_rec);
  publish_stats();
  memcpy(&sh->w[w].hist, g_hist, sizeof *g_hist);
  publish_cpu();
  __atomic_store_n(&sh->w[w].finished, 1, __ATOMIC_RELEASE);
  return 0;
}

static void sub_usage_defaults(sub_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->path = "/";
  o->channels = 1;
  o->conns = 1;
  o->connect_rate = 5000;
  o->duration = -1;
  o->reconnect_at = -1;
  o->report_ms = 1000;
  o->connect_timeout = 30;
  o->nsrc = parse_src("127.0.0.2-127.0.0.17", o->src);
}

static int cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static void print_us(const char *name, double ns, int comma) {
  printf("\"%s\":%.1f%s", name, ns / 1000.0, comma ? "," : "");
}

static int run_sub(int argc, char **argv) {
  sub_opts_t *o = &so;
  sub_usage_defaults(o);
  int have_target = 0, procs_set = 0;
  argiter_t it = {argc, 0, argv, {0}, NULL};
  while (arg_next(&it)) {
    const char *n = it.name, *v = it.value;
    if (!strcmp(n, "--target")) {
      o->ntargets = parse_targets(v, o->targets);
      have_target = 1;
    } else if (!strcmp(n, "--path")) {
      if (v[0] != '/' || strpbrk(v, " \r\n")) usage_error("--path must start with / and contain no spaces");
      o->path = v;
    } else if (!strcmp(n, "--channels")) {
      o->channels = (long)parse_num(n, v, 1, 1e7);
    } else if (!strcmp(n, "--conns")) {
      o->conns = (long)parse_num(n, v, 1, 1e7);
    } else if (!strcmp(n, "--procs")) {
      o->procs = (int)parse_num(n, v, 1, MAX_PROCS);
      procs_set = 1;
    } else if (!strcmp(n, "--src")) {
      o->nsrc = parse_src(v, o->src);
    } else if (!strcmp(n, "--header")) {
      check_header(v);
      if (o->nheaders >= MAX_HEADERS) usage_error("too many --header");
      o->headers[o->nheaders++] = v;
    } else if (!strcmp(n, "--connect-rate")) {
      o->connect_rate = parse_num(n, v, 0, 1e7);
    } else if (!strcmp(n, "--duration")) {
      o->duration = parse_num(n, v, 0.001, 7 * 86400);
    } else if (!strcmp(n, "--until-events")) {
      o->until_events = (long)parse_num(n, v, 1, 1e12);
    } else if (!strcmp(n, "--stall-fraction")) {
      o->stall_fraction = parse_num(n, v, 0, 1);
    } else if (!strcmp(n, "--last-event-id")) {
      if (strpbrk(v, "\r\n") || strlen(v) > ID_CAP) usage_error("bad --last-event-id");
      o->last_event_id = v;
    } else if (!strcmp(n, "--reconnect-at")) {
      o->reconnect_at = parse_num(n, v, 0, 7 * 86400);
    } else if (!strcmp(n, "--record-ids")) {
      o->record_ids = v;
    } else if (!strcmp(n, "--report-ms")) {
      o->report_ms = (long)parse_num(n, v, 10, 3600000);
    } else if (!strcmp(n, "--connect-timeout")) {
      o->connect_timeout = parse_num(n, v, 0.01, 3600);
    } else {
      usage_error("unknown sub option %s", n);
    }
  }
  if (!have_target) usage_error("--target is required");
  if (o->duration < 0) usage_error("--duration is required (the hard upper bound of the run)");
  if (o->reconnect_at >= o->duration) usage_error("--reconnect-at must be before --duration");
  if (!procs_set) o->procs = (int)((o->conns + 14999) / 15000);
  if (o->procs > o->conns) o->procs = (int)o->conns;
  if (o->ntargets > 255 || o->nsrc > 255) usage_error("at most 255 targets and 255 source addresses");
  raise_nofile();
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  long per = (o->conns + o->procs - 1) / o->procs;
  if ((rlim_t)per + 32 > rl.rlim_cur)
    usage_error("%ld connections per process exceed the file limit %llu: use more --procs", per,
                (unsigned long long)rl.rlim_cur);

  for (uint64_t i = 0; i < (uint64_t)o->conns; i += (uint64_t)o->channels)
    if (!is_stalled(i)) g_listeners0++;
  uint64_t nonstalled = 0;
  for (uint64_t i = 0; i < (uint64_t)o->conns; i++)
    if (!is_stalled(i)) nonstalled++;

  size_t shsize = sizeof(shared_t) + (size_t)o->procs * sizeof(wstat_t);
  sh = mmap(NULL, shsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) fatal("mmap: %s", strerror(errno));

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t pids[MAX_PROCS];
  sh->t0 = now_ns();
  for (int w = 0; w < o->procs; w++) {
    pid_t pid = fork();
    if (pid < 0) fatal("fork: %s", strerror(errno));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(3);
      signal(SIGINT, SIG_IGN);
      signal(SIGTERM, SIG_IGN);
      _exit(worker_sub(w));
    }
    pids[w] = pid;
  }
  int alive_children = o->procs;
  int exited[MAX_PROCS] = {0};
  int crashed = 0;
  uint64_t t0 = sh->t0;
  uint64_t end_ns = t0 + (uint64_t)(o->duration * 1e9);
  uint64_t phase_start = o->reconnect_at >= 0 ? t0 + (uint64_t)(o->reconnect_at * 1e9) : t0;
  uint64_t report_ns = (uint64_t)o->report_ms * 1000000ull, next_report = t0 + report_ns;
  int ready = 0;
  uint64_t prev_cpu[MAX_PROCS] = {0}, prev_sample = t0;
  double cpu_peak = 0;
  for (;;) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    uint64_t now = now_ns();
    for (int w = 0; w < o->procs; w++) {
      if (exited[w]) continue;
      int status;
      if (waitpid(pids[w], &status, WNOHANG) == pids[w]) {
        exited[w] = 1;
        alive_children--;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
          crashed = 1;
          fprintf(stderr, "loadgen: worker %d ended unexpectedly (status %d)\n", w, status);
        }
      }
    }
    uint64_t connected = 0, settled = 0, events = 0, gaps = 0, failed = 0, closed = 0, done = 0, live = 0;
    int phase_ok = 1, started = 1;
    for (int w = 0; w < o->procs; w++) {
      wstat_t *s = &sh->w[w];
      if (!__atomic_load_n(&s->started, __ATOMIC_ACQUIRE)) started = 0;
      connected += __atomic_load_n(&s->connected_now, __ATOMIC_RELAXED);
      settled += __atomic_load_n(&s->settled, __ATOMIC_RELAXED);
      events += __atomic_load_n(&s->events, __ATOMIC_RELAXED);
      gaps += __atomic_load_n(&s->gaps, __ATOMIC_RELAXED);
      failed += __atomic_load_n(&s->failed, __ATOMIC_RELAXED);
      closed += __atomic_load_n(&s->closed_unexpected, __ATOMIC_RELAXED);
      done += __atomic_load_n(&s->done, __ATOMIC_RELAXED);
      live += __atomic_load_n(&s->live, __ATOMIC_RELAXED);
      if (o->reconnect_at >= 0 && __atomic_load_n(&s->phase, __ATOMIC_RELAXED) != 1) phase_ok = 0;
    }
    if (!ready && settled >= (uint64_t)o->conns) {
      ready = 1;
      fprintf(stderr, "{\"ready\":true,\"connected\":%llu}\n", (unsigned long long)connected);
    }
    if (now >= next_report) {
      double dt = (double)(now - prev_sample) / 1e9;
      for (int w = 0; w < o->procs; w++) {
        uint64_t c = __atomic_load_n(&sh->w[w].cpu_ns, __ATOMIC_RELAXED);
        double util = dt > 0 ? (double)(c - prev_cpu[w]) / 1e9 / dt : 0;
        if (util > cpu_peak) cpu_peak = util;
        prev_cpu[w] = c;
      }
      prev_sample = now;
      next_report = now + report_ns;
      fprintf(stderr,
              "{\"t\":%.3f,\"connected\":%llu,\"events\":%llu,\"gaps\":%llu,\"failed\":%llu,\"closed\":%llu,"
              "\"done\":%llu}\n",
              (double)(now - t0) / 1e9, (unsigned long long)connected, (unsigned long long)events,
              (unsigned long long)gaps, (unsigned long long)failed, (unsigned long long)closed,
              (unsigned long long)done);
    }
    int reconnect_pending = o->reconnect_at >= 0 && !phase_ok;
    if (g_signal || crashed || alive_children == 0 || now >= end_ns) break;
    if (o->until_events > 0 && phase_ok && nonstalled > 0 && done >= nonstalled) break;
    if (started && live == 0 && !reconnect_pending) break;
  }
  __atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
  uint64_t kill_at = now_ns() + 5 * NS;
  while (alive_children > 0) {
    for (int w = 0; w < o->procs; w++) {
      if (exited[w]) continue;
      int status;
      if (waitpid(pids[w], &status, WNOHANG) == pids[w]) {
        exited[w] = 1;
        alive_children--;
      }
    }
    if (alive_children == 0) break;
    if (now_ns() > kill_at) {
      for (int w = 0; w < o->procs; w++)
        if (!exited[w]) kill(pids[w], SIGKILL);
      crashed = 1;
      kill_at = UINT64_MAX;
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  uint64_t t_end = now_ns();
  double wall = (double)(t_end - t0) / 1e9;

  wstat_t tot;
  memset(&tot, 0, sizeof tot);
  double max_worker_cpu = 0;
  uint64_t complete_ns = 0;
  for (int w = 0; w < o->procs; w++) {
    wstat_t *s = &sh->w[w];
    tot.connected_ever += s->connected_ever;
    tot.failed += s->failed;
    tot.closed_unexpected += s->closed_unexpected;
    tot.protocol_errors += s->protocol_errors;
    tot.events += s->events;
    tot.other += s->other;
    tot.comments += s->comments;
    tot.bytes += s->bytes;
    tot.gaps += s->gaps;
    tot.dups += s->dups;
    tot.done += s->done;
    tot.ids_truncated += s->ids_truncated;
    for (int r = 0; r < N_REASONS; r++) tot.fail_reasons[r] += s->fail_reasons[r];
    if (s->complete_ns > complete_ns) complete_ns = s->complete_ns;
    if ((double)s->cpu_ns / 1e9 > max_worker_cpu) max_worker_cpu = (double)s->cpu_ns / 1e9;
    h_merge(&tot.hist, &s->hist);
  }
  struct rusage rc, rs;
  getrusage(RUSAGE_CHILDREN, &rc);
  getrusage(RUSAGE_SELF, &rs);
  double cu = tv_s(rc.ru_utime) + tv_s(rs.ru_utime), cs = tv_s(rc.ru_stime) + tv_s(rs.ru_stime);
  int cap = o->procs < cpu_count() ? o->procs : cpu_count();
  int saturated = (cu + cs) > 0.9 * wall * cap || max_worker_cpu > 0.9 * wall;

  /* reach-all over fully delivered seqs */
  hist_t *reach = calloc(1, sizeof *reach);
  if (!reach) fatal("out of memory");
  if (g_listeners0 > 0) {
    for (uint32_t s = 1; s <= REACH_N; s++) {
      if (sh->reach_count[s] >= g_listeners0) {
        uint64_t last = sh->reach_last[s], t = sh->reach_t[s];
        h_add(reach, last > t ? last - t : 0);
      }
    }
  }
  int all_done = o->until_events > 0 && nonstalled > 0 && tot.done >= nonstalled;
  printf("{\"mode\":\"sub\",\"conns\":%ld,\"connected\":%llu,\"failed\":%llu,\"closed_unexpected\":%llu,", o->conns,
         (unsigned long long)tot.connected_ever, (unsigned long long)tot.failed,
         (unsigned long long)tot.closed_unexpected);
  printf("\"events\":%llu,\"other\":%llu,\"comments\":%llu,\"bytes\":%llu,\"gaps\":%llu,\"dups\":%llu,",
         (unsigned long long)tot.events, (unsigned long long)tot.other, (unsigned long long)tot.comments,
         (unsigned long long)tot.bytes, (unsigned long long)tot.gaps, (unsigned long long)tot.dups);
  printf("\"completed\":%llu,", (unsigned long long)tot.done);
  if (all_done && complete_ns >= phase_start)
    printf("\"complete_s\":%.4f,", (double)(complete_ns - phase_start) / 1e9);
  else
    printf("\"complete_s\":null,");
  const hist_t *h = &tot.hist;
  printf("\"latency_us\":{\"count\":%llu,", (unsigned long long)h->total);
  print_us("p50", (double)h_quantile(h, 0.5), 1);
  print_us("p90", (double)h_quantile(h, 0.9), 1);
  print_us("p99", (double)h_quantile(h, 0.99), 1);
  print_us("p999", (double)h_quantile(h, 0.999), 1);
  print_us("max", (double)h->max, 1);
  print_us("mean", h->total ? h->sum / (double)h->total : 0, 0);
  printf("},");
  if (reach->total > 0) {
    printf("\"reach_all_us\":{\"count\":%llu,", (unsigned long long)reach->total);
    print_us("p50", (double)h_quantile(reach, 0.5), 1);
    print_us("p99", (double)h_quantile(reach, 0.99), 1);
    print_us("max", (double)reach->max, 0);
    printf("},");
  } else {
    printf("\"reach_all_us\":null,");
  }
  printf("\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"wall_s\":%.3f,\"saturated\":%s,", cu, cs, wall,
         saturated ? "true" : "false");
  printf("\"fail_reasons\":{");
  for (int r = 0, first = 1; r < N_REASONS; r++) {
    if (!tot.fail_reasons[r]) continue;
    printf("%s\"%s\":%llu", first ? "" : ",", REASON_NAMES[r], (unsigned long long)tot.fail_reasons[r]);
    first = 0;
  }
  printf("},");
  printf("\"procs\":%d,\"cpu_peak_util\":%.3f,\"protocol_errors\":%llu,\"ids_truncated\":%llu}\n", o->procs,
         cpu_peak, (unsigned long long)tot.protocol_errors, (unsigned long long)tot.ids_truncated);
  fflush(stdout);
  if (crashed) return 3;
  if (tot.connected_ever == 0) return 2;
  return 0;
}

/* ========================================================================================== */
/* PUB mode                                                                                   */
/* ========================================================================================== */

#define OUT_MAX (4u << 20)
#define MAX_PCONNS 1024

enum { P_DOWN, P_CONNECTING, P_UP };
enum { RS_HEAD, RS_LEN, RS_CHUNKED, RS_CLOSE };

typedef struct {
  int fd;
  uint32_t gen;
  int state;
  char *out;
  size_t out_len, out_off, out_cap;
  uint64_t inflight;
  int rs;
  char hdr[HDR_CAP];
  size_t hdr_len;
  head_t head;
  uint64_t left;
  chunk_t ck;
  int watching_out;
} pconn_t;

typedef struct {
  target_t target;
  const char *method, *path, *body, *content_type;
  const char *headers[MAX_HEADERS];
  int nheaders;
  long size;
  long channels;
  int closed_mode;
  long window;
  long conns;
  double rate;
  long burst;
  uint64_t count;
  double duration;
  long report_ms;
  double drain;
} pub_opts_t;

static pub_opts_t po;
static pconn_t *pc;
static int p_ep;
static uint64_t *p_seq;
static uint64_t p_sent, p_ok, p_errors, p_dropped, p_lost, p_closed, p_inflight, p_reconnects, p_proto;
static uint64_t p_status[600];
static char p_scratch[1 << 16];
static char p_data[1 << 16];

static void p_ep_set(pconn_t *c, uint32_t events) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.u64 = (uint64_t)(c - pc) | ((uint64_t)c->gen << 32);
  if (epoll_ctl(p_ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) epoll_ctl(p_ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void p_connect(pconn_t *c) {
  c->state = P_DOWN;
  int fd = socket(po.target.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r;
  do r = connect(fd, (const struct sockaddr *)&po.target.sa, po.target.len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    close(fd);
    return;
  }
  c->fd = fd;
  c->gen++;
  c->state = r == 0 ? P_UP : P_CONNECTING;
  c->rs = RS_HEAD;
  c->hdr_len = 0;
  c->out_len = c->out_off = 0;
  c->inflight = 0;
  c->watching_out = 1;
  struct epoll_event ev;
  ev.events = EPOLLIN | EPOLLOUT;
  ev.data.u64 = (uint64_t)(c - pc) | ((uint64_t)c->gen << 32);
  epoll_ctl(p_ep, EPOLL_CTL_ADD, fd, &ev);
}

/* The connection ended (by the server or an error): unanswered requests on it are lost. */
static void p_down(pconn_t *c, int count_closed) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->gen++;
  if (count_closed) p_closed++;
  p_errors += c->inflight;
  p_lost += c->inflight;
  p_inflight -= c->inflight;
  c->inflight = 0;
  c->out_len = c->out_off = 0;
  c->state = P_DOWN;
}

static void p_flush(pconn_t *c) {
  while (c->out_off < c->out_len) {
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      p_down(c, 1);
      return;
    }
    c->out_off += (size_t)w;
  }
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  int want = c->out_len > 0;
  if (want != c->watching_out) {
    c->watching_out = want;
    p_ep_set(c, EPOLLIN | (want ? EPOLLOUT : 0));
  }
}

static size_t subst(char *out, size_t cap, const char *tpl, unsigned long long ch, unsigned long long seq,
                    const char *data, size_t dlen, int in_path) {
  size_t n = 0;
  for (const char *p = tpl; *p; p++) {
    if (n + 64 >= cap) fatal("request template expands beyond %zu bytes", cap);
    if (!strncmp(p, "{c}", 3)) {
      n += (size_t)snprintf(out + n, cap - n, "%llu", ch);
      p += 2;
    } else if (!strncmp(p, "{s}", 3)) {
      n += (size_t)snprintf(out + n, cap - n, "%llu", seq);
      p += 2;
    } else if (!strncmp(p, "{data}", 6)) {
      for (size_t k = 0; k < dlen; k++) {
        if (n + 4 >= cap) fatal("request template expands beyond %zu bytes", cap);
        if (in_path && data[k] == ' ') {
          memcpy(out + n, "%20", 3);
          n += 3;
        } else {
          out[n++] = data[k];
        }
      }
      p += 5;
    } else {
      out[n++] = *p;
    }
  }
  out[n] = 0;
  return n;
}

static int p_append(pconn_t *c, const char *p, size_t n) {
  if (c->out_len + n > OUT_MAX) return -1;
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 65536;
    while (cap < c->out_len + n) cap *= 2;
    char *b = realloc(c->out, cap);
    if (!b) fatal("out of memory");
    c->out = b;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  return 0;
}

/* Builds the next request (channel rotation, per-channel seq, t = sched) and queues it on c. */
static int p_queue(pconn_t *c, uint64_t t) {
  uint64_t ch = p_sent % (uint64_t)po.channels;
  uint64_t seq = p_seq[ch] + 1;
  int dl = snprintf(p_data, sizeof p_data, "s=%llu t=%llu ", (unsigned long long)seq, (unsigned long long)t);
  size_t dlen = (size_t)dl;
  while (dlen < (size_t)po.size) p_data[dlen++] = 'x';
  p_data[dlen] = 0;
  char path[4096];
  subst(path, sizeof path, po.path, ch, seq, p_data, dlen, 1);
  static char body[1 << 15];
  size_t blen = subst(body, sizeof body, po.body, ch, seq, p_data, dlen, 0);
  size_t n = (size_t)snprintf(p_scratch, sizeof p_scratch, "%s %s HTTP/1.1\r\nHost: %s\r\n", po.method, path,
                              po.target.host);
  if (blen > 0 || strcmp(po.method, "GET") != 0)
    n += (size_t)snprintf(p_scratch + n, sizeof p_scratch - n, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                          po.content_type, blen);
  for (int h = 0; h < po.nheaders; h++)
    n += (size_t)snprintf(p_scratch + n, sizeof p_scratch - n, "%s\r\n", po.headers[h]);
  n += (size_t)snprintf(p_scratch + n, sizeof p_scratch - n, "\r\n");
  if (n + blen >= sizeof p_scratch) fatal("request too large");
  memcpy(p_scratch + n, body, blen);
  n += blen;
  if (p_append(c, p_scratch, n) < 0) return -1;
  p_seq[ch] = seq;
  p_sent++;
  c->inflight++;
  p_inflight++;
  return 0;
}

static void p_response_done(pconn_t *c) {
  int st = c->head.status;
  if (st >= 100 && st < 600) p_status[st]++;
  if (st >= 200 && st < 300)
    p_ok++;
  else
    p_errors++;
  if (c->inflight > 0) {
    c->inflight--;
    p_inflight--;
  }
  c->rs = RS_HEAD;
  c->hdr_len = 0;
}

/* Consumes response bytes; returns -1 when the connection must be closed. */
static int p_consume(pconn_t *c, const char *p, size_t n) {
  while (n > 0) {
    switch (c->rs) {
      case RS_HEAD: {
        size_t from = c->hdr_len;
        size_t take = n < HDR_CAP - c->hdr_len ? n : HDR_CAP - c->hdr_len;
        memcpy(c->hdr + c->hdr_len, p, take);
        c->hdr_len += take;
        size_t he = head_end(c->hdr, c->hdr_len, from);
        if (!he) {
          if (c->hdr_len >= HDR_CAP) {
            p_proto++;
            return -1;
          }
          return 0;
        }
        size_t used = he - from;
        p += used;
        n -= used;
        if (parse_head(c->hdr, he, &c->head) < 0) {
          p_proto++;
          return -1;
        }
        c->hdr_len = 0;
        int st = c->head.status;
        if (st >= 100 && st < 200) break; /* interim response */
        if (st == 204 || st == 304 || c->head.content_length == 0) {
          int close_after = c->head.conn_close;
          p_response_done(c);
          if (close_after) return -1;
        } else if (c->head.chunked) {
          memset(&c->ck, 0, sizeof c->ck);
          c->rs = RS_CHUNKED;
        } else if (c->head.content_length > 0) {
          c->left = (uint64_t)c->head.content_length;
          c->rs = RS_LEN;
        } else {
          c->rs = RS_CLOSE;
        }
        break;
      }
      case RS_LEN: {
        size_t take = (uint64_t)n > c->left ? (size_t)c->left : n;
        c->left -= take;
        p += take;
        n -= take;
        if (c->left == 0) {
          int close_after = c->head.conn_close;
          p_response_done(c);
          if (close_after) return -1;
        }
        break;
      }
      case RS_CHUNKED: {
        size_t used;
        int r = chunk_feed(&c->ck, p, n, &used, NULL, NULL);
        if (r < 0) {
          p_proto++;
          return -1;
        }
        p += used;
        n -= used;
        if (r == 1) {
          int close_after = c->head.conn_close;
          p_response_done(c);
          if (close_after) return -1;
        }
        break;
      }
      default: /* RS_CLOSE: the body runs to the end of the connection */
        return 0;
    }
  }
  return 0;
}

static void p_event(pconn_t *c, uint32_t events) {
  if (c->state == P_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err) {
      close(c->fd);
      c->fd = -1;
      c->gen++;
      c->state = P_DOWN;
      p_errors++;
      return;
    }
    if (!(events & EPOLLOUT)) return;
    c->state = P_UP;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    for (;;) {
      ssize_t r = read(c->fd, p_scratch, sizeof p_scratch);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (r <= 0) {
        if (c->rs == RS_CLOSE) {
          p_response_done(c);
          p_down(c, c->inflight > 0);
        } else {
          p_down(c, c->inflight > 0);
        }
        return;
      }
      if (p_consume(c, p_scratch, (size_t)r) < 0) {
        p_down(c, c->inflight > 0);
        return;
      }
      if ((size_t)r < sizeof p_scratch) break;
    }
  }
  if (c->state == P_UP && c->fd >= 0) p_flush(c);
}

static int run_pub(int argc, char **argv) {
  pub_opts_t *o = &po;
  memset(o, 0, sizeof *o);
  o->method = "POST";
  o->path = "/";
  o->body = "{data}";
  o->content_type = "text/plain";
  o->size = 100;
  o->channels = 1;
  o->closed_mode = 1;
  o->window = 1;
  o->conns = 1;
  o->burst = 1;
  o->duration = -1;
  o->report_ms = 1000;
  o->drain = 5;
  int have_target = 0, have_count = 0, mode_set = 0;
  argiter_t it = {argc, 0, argv, {0}, NULL};
  while (arg_next(&it)) {
    const char *n = it.name, *v = it.value;
    if (!strcmp(n, "--target")) {
      if (strchr(v, ',')) usage_error("pub takes one --target");
      parse_target(v, &o->target);
      have_target = 1;
    } else if (!strcmp(n, "--method")) {
      if (!*v || strpbrk(v, " \r\n")) usage_error("bad --method");
      o->method = v;
    } else if (!strcmp(n, "--path")) {
      if (v[0] != '/' || strpbrk(v, " \r\n")) usage_error("--path must start with / and contain no spaces");
      o->path = v;
    } else if (!strcmp(n, "--body")) {
      o->body = v;
    } else if (!strcmp(n, "--content-type")) {
      if (strpbrk(v, "\r\n")) usage_error("bad --content-type");
      o->content_type = v;
    } else if (!strcmp(n, "--header")) {
      check_header(v);
      if (o->nheaders >= MAX_HEADERS) usage_error("too many --header");
      o->headers[o->nheaders++] = v;
    } else if (!strcmp(n, "--size")) {
      o->size = (long)parse_num(n, v, 0, 16384);
    } else if (!strcmp(n, "--channels")) {
      o->channels = (long)parse_num(n, v, 1, 1e7);
    } else if (!strcmp(n, "--mode")) {
      if (!strcmp(v, "closed"))
        o->closed_mode = 1;
      else if (!strcmp(v, "open"))
        o->closed_mode = 0;
      else
        usage_error("--mode is closed or open");
      mode_set = 1;
    } else if (!strcmp(n, "--window")) {
      o->window = (long)parse_num(n, v, 1, 1e6);
    } else if (!strcmp(n, "--conns")) {
      o->conns = (long)parse_num(n, v, 1, MAX_PCONNS);
    } else if (!strcmp(n, "--rate")) {
      o->rate = parse_num(n, v, 0.001, 1e8);
    } else if (!strcmp(n, "--burst")) {
      o->burst = (long)parse_num(n, v, 1, 1e6);
    } else if (!strcmp(n, "--count")) {
      o->count = (uint64_t)parse_num(n, v, 1, 1e15);
      have_count = 1;
    } else if (!strcmp(n, "--duration")) {
      o->duration = parse_num(n, v, 0.001, 7 * 86400);
    } else if (!strcmp(n, "--report-ms")) {
      o->report_ms = (long)parse_num(n, v, 10, 3600000);
    } else if (!strcmp(n, "--drain")) {
      o->drain = parse_num(n, v, 0, 600);
    } else {
      usage_error("unknown pub option %s", n);
    }
  }
  (void)mode_set;
  if (!have_target) usage_error("--target is required");
  if (!have_count && o->duration < 0) usage_error("--count and/or --duration is required");
  if (!o->closed_mode && o->rate <= 0) usage_error("--mode open needs --rate");
  if (o->duration < 0) o->duration = 7 * 86400; /* the count bounds it; still a finite bound */
  if (!have_count) o->count = UINT64_MAX;
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  p_seq = calloc((size_t)o->channels, sizeof *p_seq);
  pc = calloc((size_t)o->conns, sizeof *pc);
  if (!p_seq || !pc) fatal("out of memory");
  p_ep = epoll_create1(EPOLL_CLOEXEC);
  for (long i = 0; i < o->conns; i++) {
    pc[i].fd = -1;
    p_connect(&pc[i]);
  }
  struct epoll_event evs[MAX_EVENTS];
  /* wait (bounded) for the connections to open before the clock starts */
  uint64_t connect_deadline = now_ns() + 5 * NS;
  for (;;) {
    long up = 0, pending = 0;
    for (long i = 0; i < o->conns; i++) {
      up += pc[i].state == P_UP;
      pending += pc[i].state == P_CONNECTING;
    }
    if (pending == 0 || now_ns() > connect_deadline || g_signal) {
      if (up == 0) {
        printf("{\"mode\":\"pub\",\"sent\":0,\"ok\":0,\"errors\":%ld,\"status\":{},\"rate\":0,\"wall_s\":0,"
               "\"cpu_user_s\":0,\"cpu_sys_s\":0,\"error\":\"could not connect\"}\n",
               o->conns);
        return 2;
      }
      break;
    }
    int k = epoll_wait(p_ep, evs, MAX_EVENTS, 50);
    for (int e = 0; e < k; e++) {
      pconn_t *c = &pc[(uint32_t)evs[e].data.u64];
      if (c->gen == (uint32_t)(evs[e].data.u64 >> 32) && c->fd >= 0) p_event(c, evs[e].events);
    }
  }
  uint64_t t0 = now_ns();
  uint64_t end_ns = t0 + (uint64_t)(o->duration * 1e9);
  uint64_t tick_ns = o->closed_mode ? 0 : (uint64_t)((double)o->burst / o->rate * 1e9);
  if (!o->closed_mode && tick_ns == 0) tick_ns = 1;
  uint64_t next_tick = t0;
  uint64_t report_ns = (uint64_t)o->report_ms * 1000000ull, next_report = t0 + report_ns;
  int sending = 1;
  uint64_t drain_deadline = 0, t_last = t0;
  long rr = 0;
  for (;;) {
    uint64_t now = now_ns();
    if (sending && (p_sent >= o->count || now >= end_ns || g_signal)) {
      sending = 0;
      drain_deadline = now + (uint64_t)(o->drain * 1e9);
    }
    if (!sending && (p_inflight == 0 || now >= drain_deadline || g_signal > 1)) break;
    /* re-open connections the server closed (bounded) */
    for (long i = 0; i < o->conns && sending; i++) {
      if (pc[i].state == P_DOWN && p_reconnects < 10000) {
        p_reconnects++;
        p_connect(&pc[i]);
      }
    }
    if (sending && p_reconnects >= 10000) {
      long up = 0;
      for (long i = 0; i < o->conns; i++) up += pc[i].state != P_DOWN;
      if (up == 0) {
        fprintf(stderr, "loadgen: every publisher connection is down and reconnects are exhausted\n");
        sending = 0;
        drain_deadline = now;
      }
    }
    if (sending) {
      if (o->closed_mode) {
        while (p_inflight < (uint64_t)o->window && p_sent < o->count) {
          pconn_t *best = NULL;
          for (long i = 0; i < o->conns; i++)
            if (pc[i].state == P_UP && (!best || pc[i].inflight < best->inflight)) best = &pc[i];
          if (!best) break;
          if (p_queue(best, now_ns()) < 0) break;
        }
      } else {
        long budget = 100000;
        while (next_tick <= now && p_sent < o->count && budget > 0) {
          for (long b = 0; b < o->burst && p_sent < o->count; b++, budget--) {
            pconn_t *c = NULL;
            for (long k = 0; k < o->conns; k++) {
              pconn_t *x = &pc[(rr + k) % o->conns];
              if (x->state == P_UP) {
                c = x;
                rr = (rr + k + 1) % o->conns;
                break;
              }
            }
            if (!c || p_queue(c, next_tick) < 0) {
              /* nowhere to send it: the scheduled request is dropped, not delayed */
              p_dropped++;
              p_errors++;
              p_sent++;
            }
          }
          next_tick += tick_ns;
        }
      }
      for (long i = 0; i < o->conns; i++)
        if (pc[i].state == P_UP && pc[i].out_len > 0) p_flush(&pc[i]);
    }
    if (now >= next_report) {
      next_report = now + report_ns;
      fprintf(stderr, "{\"t\":%.3f,\"sent\":%llu,\"ok\":%llu,\"errors\":%llu,\"inflight\":%llu}\n",
              (double)(now - t0) / 1e9, (unsigned long long)p_sent, (unsigned long long)p_ok,
              (unsigned long long)p_errors, (unsigned long long)p_inflight);
    }
    struct timespec to = {0, 20 * 1000 * 1000};
    if (sending && !o->closed_mode && p_sent < o->count) {
      uint64_t n2 = now_ns();
      uint64_t wait = next_tick > n2 ? next_tick - n2 : 0;
      if (wait < 20000000ull) {
        to.tv_sec = 0;
        to.tv_nsec = (long)wait;
      }
    }
    if (sending && o->closed_mode && p_inflight < (uint64_t)o->window && p_sent < o->count) to.tv_nsec = 1000000;
    int k = epoll_pwait2(p_ep, evs, MAX_EVENTS, &to, NULL);
    if (k < 0 && errno == ENOSYS) k = epoll_wait(p_ep, evs, MAX_EVENTS, (int)(to.tv_nsec / 1000000));
    if (k < 0) {
      if (errno == EINTR) continue;
      fatal("epoll_wait: %s", strerror(errno));
    }
    for (int e = 0; e < k; e++) {
      uint32_t idx = (uint32_t)evs[e].data.u64;
      if (idx >= (uint32_t)o->conns) continue;
      pconn_t *c = &pc[idx];
      if (c->gen != (uint32_t)(evs[e].data.u64 >> 32) || c->fd < 0) continue;
      uint64_t before = p_ok + p_errors;
      p_event(c, evs[e].events);
      if (p_ok + p_errors != before) t_last = now_ns();
    }
  }
  /* requests never answered within the drain time */
  uint64_t unanswered = p_inflight;
  p_errors += unanswered;
  for (long i = 0; i < o->conns; i++)
    if (pc[i].fd >= 0) close(pc[i].fd);
  uint64_t t_end = now_ns();
  double wall = (double)(t_end - t0) / 1e9;
  double active = (double)((t_last > t0 ? t_last : t_end) - t0) / 1e9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cu = tv_s(ru.ru_utime), cs = tv_s(ru.ru_stime);
  printf("{\"mode\":\"pub\",\"sent\":%llu,\"ok\":%llu,\"errors\":%llu,\"status\":{", (unsigned long long)p_sent,
         (unsigned long long)p_ok, (unsigned long long)p_errors);
  int first = 1;
  for (int s = 100; s < 600; s++) {
    if (!p_status[s]) continue;
    printf("%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)p_status[s]);
    first = 0;
  }
  printf("},\"rate\":%.1f,\"wall_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,", active > 0 ? (double)p_ok / active : 0,
         wall, cu, cs);
  printf("\"saturated\":%s,\"dropped\":%llu,\"lost\":%llu,\"unanswered\":%llu,\"closed_unexpected\":%llu,"
         "\"reconnects\":%llu,\"protocol_errors\":%llu}\n",
         cu + cs > 0.9 * wall ? "true" : "false", (unsigned long long)p_dropped, (unsigned long long)p_lost,
         (unsigned long long)unanswered, (unsigned long long)p_closed, (unsigned long long)p_reconnects,
         (unsigned long long)p_proto);
  fflush(stdout);
  return 0;
}

/* ========================================================================================== */

static const char *USAGE =
    "usage:\n"
    "  loadgen sub --target H:P[,H:P...] --duration SEC [--path P(%c=channel)] [--conns N] [--channels N]\n"
    "              [--procs P] [--src 127.0.0.2-127.0.0.17|none] [--header 'N: v']... [--connect-rate N]\n"
    "              [--until-events N] [--stall-fraction F] [--last-event-id ID] [--reconnect-at SEC]\n"
    "              [--record-ids FILE] [--report-ms MS] [--connect-timeout SEC]\n"
    "  loadgen pub --target H:P (--count N | --duration SEC) [--method POST] [--path T] [--body T]\n"
    "              [--content-type T] [--header 'N: v']... [--size B] [--channels N]\n"
    "              [--mode closed --window W | --mode open --rate R [--burst B]] [--conns C]\n"
    "              [--report-ms MS] [--drain SEC]   (templates: {c} channel, {s} seq, {data})\n"
    "See bench/loadgen/README.md.\n";

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(USAGE, stdout);
    return argc < 2 ? 1 : 0;
  }
  if (!strcmp(argv[1], "sub")) return run_sub(argc - 2, argv + 2);
  if (!strcmp(argv[1], "pub")) return run_pub(argc - 2, argv + 2);
  usage_error("unknown mode '%s' (sub or pub)", argv[1]);
  return 1;
}
