/*
 * http.c: the metrics endpoint on libmicrohttpd, driven by our loop (see
 * http.h). The HTTP parsing is libmicrohttpd's; what is here is the
 * listening socket, the glue to the loop and the three answers.
 */
#include "metrics/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "metrics/address.h"
#include "metrics/mhd.h"
#include "metrics/process.h"
#include "metrics/registry.h"
#include "metrics/text.h"
#include "util/alloc.h"
#include "util/log.h"

#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10
#define BEAT_MS 1000
/* /healthz: the loop must have turned within this, the health thread
 * beaten within that (it beats before each wait of at most 5 s and each
 * pause of at most 5 s: 30 s is three times the longest gap). */
#define LOOP_STALE_MS 10000
#define HEALTH_STALE_MS 30000
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_server {
	struct loop *loop;
	const struct metrics_mhd *mhd_fn;   /* the library's calls */
	struct metrics_source src;
	struct MHD_Daemon *mhd;
	int listen_fd;
	int epoll_fd;
	struct loop_timer *timer;
	int64_t beat_ms;              /* the loop's last turn of |timer| */
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* ---- the answers ---- */

static enum MHD_Result
answer(const struct metrics_server *s, struct MHD_Connection *c,
    unsigned status, const char *type, const char *body, size_t len)
{
	const struct metrics_mhd *m = s->mhd_fn;
	struct MHD_Response *r = m->create_response_from_buffer(len,
	    (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	(void)m->add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	(void)m->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	rc = m->queue_response(c, status, r);
	m->destroy_response(r);
	return rc;
}

static enum MHD_Result
answer_text(const struct metrics_server *s, struct MHD_Connection *c,
    unsigned status, const char *text)
{
	return answer(s, c, status, "text/plain; charset=utf-8", text,
	    strlen(text));
}

/* 503 with |why| and a newline. */
static enum MHD_Result
answer_unavailable(const struct metrics_server *s, struct MHD_Connection *c,
    const char *why)
{
	char body[320];

	snprintf(body, sizeof(body), "%s\n", why);
	return answer_text(s, c, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static void
write_build_info(const struct metrics_server *s, struct metrics_text *t)
{
	const char *l[] = { "version", s->src.version, "revision",
		s->src.revision, NULL };

	metrics_text_family(t, "gdp_build_info", "gauge", "Always 1: the "
	    "plugin's version and source revision as labels.");
	metrics_text_count(t, "gdp_build_info", l, NULL, 1);
}

/* gdp_ready: what /readyz says, as 1 or 0. */
static void
write_ready(const struct metrics_server *s, struct metrics_text *t)
{
	char why[300];
	bool ready = s->src.ready == NULL ||
	    s->src.ready(s->src.arg, why, sizeof(why));

	metrics_text_family(t, "gdp_ready", "gauge", "1 while every served "
	    "resource is registered with the kubelet (or registration is "
	    "off), as /readyz; else 0.");
	metrics_text_count(t, "gdp_ready", NULL, NULL, ready);
}

static enum MHD_Result
answer_metrics(struct metrics_server *s, struct MHD_Connection *c)
{
	struct metrics_text t;
	enum MHD_Result rc;

	metrics_text_init(&t);
	write_build_info(s, &t);
	write_ready(s, &t);
	metrics_process_write(&t);
	metrics_registry_write(&t);
	if (s->src.collect != NULL)
		s->src.collect(&t, s->src.arg);
	if (metrics_text_failed(&t))
		rc = answer_text(s, c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "out of memory\n");
	else
		rc = answer(s, c, MHD_HTTP_OK, CONTENT_TYPE, t.buf, t.len);
	metrics_text_free(&t);
	return rc;
}

static enum MHD_Result
answer_healthz(struct metrics_server *s, struct MHD_Connection *c)
{
	int64_t now = loop_now_ms();
	char why[200];

	if (now - s->beat_ms > LOOP_STALE_MS) {
		snprintf(why, sizeof(why), "the event loop has not turned for "
		    "%lld ms", (long long)(now - s->beat_ms));
		return answer_unavailable(s, c, why);
	}
	if (!metrics_health_alive(now, HEALTH_STALE_MS, why, sizeof(why)))
		return answer_unavailable(s, c, why);
	return answer_text(s, c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result
answer_readyz(struct metrics_server *s, struct MHD_Connection *c)
{
	char why[300] = "";

	if (s->src.ready != NULL && !s->src.ready(s->src.arg, why,
	    sizeof(why)))
		return answer_unavailable(s, c, why);
	return answer_text(s, c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **req)
{
	struct metrics_server *s = cls;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return answer_text(s, c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET and HEAD\n");
	if (*upload_size != 0)
		return answer_text(s, c, MHD_HTTP_BAD_REQUEST, "no body\n");
	if (!strcmp(url, "/metrics"))
		return answer_metrics(s, c);
	if (!strcmp(url, "/healthz"))
		return answer_healthz(s, c);
	if (!strcmp(url, "/readyz"))
		return answer_readyz(s, c);
	return answer_text(s, c, MHD_HTTP_NOT_FOUND,
	    "/metrics, /healthz or /readyz\n");
}

/* ---- the loop's side ---- */

/* Runs libmicrohttpd; the delay until it wants to run again. */
static int64_t
run_mhd(struct metrics_server *s)
{
	MHD_UNSIGNED_LONG_LONG to;

	(void)s->mhd_fn->run(s->mhd);
	if (s->mhd_fn->get_timeout(s->mhd, &to) == MHD_YES && to < BEAT_MS)
		return (int64_t)to;
	return BEAT_MS;
}

static int64_t
on_timer(struct loop *loop, void *arg)
{
	struct metrics_server *s = arg;

	s->beat_ms = loop_now_ms();
	return run_mhd(s);
}

static void
on_ready(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct metrics_server *s = arg;
	int64_t next = run_mhd(s);

	if (next < BEAT_MS && s->timer != NULL)
		loop_timer_reset(loop, s->timer, next);
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *arg, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_warn("metrics endpoint: %s", msg);
}

/* ---- starting ---- */

static int
listen_on(struct metrics_server *s, const struct metrics_address *a,
    char *err, size_t errlen)
{
	int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0), one = 1;
	struct stat st;

	if (fd < 0)
		goto fail;
	if (a->family == AF_UNIX) {
		const char *path = ((const struct sockaddr_un *)&a->sa)->sun_path;

		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(path);     /* a leftover of ours */
		snprintf(s->unix_path, sizeof(s->unix_path), "%s", path);
	} else {
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		if (a->family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0 ||
	    listen(fd, MAX_CONNECTIONS) < 0)
		goto fail;
	if (a->family == AF_UNIX)
		(void)chmod(s->unix_path, 0660);
	s->listen_fd = fd;
	return 0;
fail:
	snprintf(err, errlen, "cannot listen: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	s->unix_path[0] = '\0';
	return -1;
}

static int
start_mhd(struct metrics_server *s, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;

	s->mhd = s->mhd_fn->start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL,
	    NULL, on_request, s,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)s,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(err, errlen, "libmicrohttpd would not start");
		return -1;
	}
	info = s->mhd_fn->get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		s->mhd_fn->stop_daemon(s->mhd);
		s->mhd = NULL;
		s->listen_fd = -1;
		snprintf(err, errlen, "libmicrohttpd has no epoll descriptor");
		return -1;
	}
	s->epoll_fd = info->epoll_fd;
	s->listen_fd = -1;      /* MHD_stop_daemon() closes it now */
	return 0;
}

struct metrics_server *
metrics_server_start(struct loop *loop, const char *address,
    const struct metrics_source *src, char *err, size_t errlen)
{
	struct metrics_server *s = gdp_calloc(1, sizeof(*s));
	struct metrics_address a;
	int rc;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->src = *src;
	s->listen_fd = s->epoll_fd = -1;
	s->beat_ms = loop_now_ms();
	s->mhd_fn = metrics_mhd_load(err, errlen);
	if (s->mhd_fn == NULL ||
	    metrics_address_parse(address, &a, err, errlen) < 0 ||
	    listen_on(s, &a, err, errlen) < 0 ||
	    start_mhd(s, err, errlen) < 0)
		goto fail;
	rc = loop_add_fd(loop, s->epoll_fd, LOOP_READ, on_ready, s);
	if (rc < 0) {
		snprintf(err, errlen, "cannot watch it: %s", strerror(-rc));
		s->epoll_fd = -1;
		goto fail;
	}
	s->timer = loop_add_timer(loop, BEAT_MS, on_timer, s);
	if (s->timer == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return s;
fail:
	metrics_server_free(s);
	return NULL;
}

void
metrics_server_free(struct metrics_server *s)
{
	if (s == NULL)
		return;
	if (s->timer != NULL)
		loop_cancel_timer(s->loop, s->timer);
	if (s->epoll_fd >= 0)
		loop_del_fd(s->loop, s->epoll_fd);
	if (s->mhd != NULL && s->mhd_fn != NULL)
		s->mhd_fn->stop_daemon(s->mhd);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->unix_path[0] != '\0')
		(void)unlink(s->unix_path);
	gdp_free(s);
}
