/*
 * http.c: the metrics endpoint (see http.h): the listening socket, the
 * three answers and the loop's heartbeat. The HTTP/1.1 server that
 * carries them, with its limits, is server.c.
 */
#include "metrics/http.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "metrics/address.h"
#include "metrics/process.h"
#include "metrics/registry.h"
#include "metrics/server.h"
#include "metrics/text.h"
#include "util/alloc.h"
#include "util/log.h"

/* The loop's heartbeat: half the time /healthz allows it, so an idle
 * plugin wakes for it every 5 s (the health probe's pace), not every
 * second. */
#define BEAT_MS 5000
/* /healthz: the loop must have turned within this, the health thread
 * beaten within that (it beats before each wait of at most 5 s and each
 * pause of at most 5 s: 30 s is three times the longest gap). */
#define LOOP_STALE_MS 10000
#define HEALTH_STALE_MS 30000
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_server {
	struct loop *loop;
	struct metrics_source src;
	struct http_server *http;
	struct loop_timer *timer;
	int64_t beat_ms;              /* the loop's last turn of |timer| */
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* ---- the answers ---- */

static void
answer_text(struct http_answer *a, unsigned status, const char *text)
{
	a->status = status;
	a->type = "text/plain; charset=utf-8";
	metrics_text_append(&a->body, text, strlen(text));
}

/* 503 with |why| and a newline. */
static void
answer_unavailable(struct http_answer *a, const char *why)
{
	answer_text(a, 503, why);
	answer_text(a, 503, "\n");
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

static void
answer_metrics(struct metrics_server *s, struct http_answer *a)
{
	struct metrics_text *t = &a->body;

	write_build_info(s, t);
	write_ready(s, t);
	metrics_process_write(t);
	metrics_registry_write(t);
	if (s->src.collect != NULL)
		s->src.collect(t, s->src.arg);
	a->status = 200;
	a->type = CONTENT_TYPE;
}

static void
answer_healthz(struct metrics_server *s, struct http_answer *a)
{
	int64_t now = loop_now_ms();
	char why[200];

	if (now - s->beat_ms > LOOP_STALE_MS) {
		snprintf(why, sizeof(why), "the event loop has not turned for "
		    "%lld ms", (long long)(now - s->beat_ms));
		answer_unavailable(a, why);
	} else if (!metrics_health_alive(now, HEALTH_STALE_MS, why,
	    sizeof(why))) {
		answer_unavailable(a, why);
	} else {
		answer_text(a, 200, "ok\n");
	}
}

static void
answer_readyz(struct metrics_server *s, struct http_answer *a)
{
	char why[300] = "";

	if (s->src.ready != NULL && !s->src.ready(s->src.arg, why,
	    sizeof(why)))
		answer_unavailable(a, why);
	else
		answer_text(a, 200, "ok\n");
}

static void
on_request(void *arg, const char *path, struct http_answer *a)
{
	struct metrics_server *s = arg;

	if (!strcmp(path, "/metrics"))
		answer_metrics(s, a);
	else if (!strcmp(path, "/healthz"))
		answer_healthz(s, a);
	else if (!strcmp(path, "/readyz"))
		answer_readyz(s, a);
	else
		answer_text(a, 404, "/metrics, /healthz or /readyz\n");
}

/* Stamps the loop's heartbeat for /healthz. */
static int64_t
on_timer(struct loop *loop, void *arg)
{
	struct metrics_server *s = arg;

	s->beat_ms = loop_now_ms();
	return BEAT_MS;
}

/* ---- starting ---- */

/* Returns the listening socket, or -1 with why in |err|. */
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
	    listen(fd, HTTP_MAX_CONNECTIONS) < 0)
		goto fail;
	if (a->family == AF_UNIX)
		(void)chmod(s->unix_path, 0660);
	return fd;
fail:
	snprintf(err, errlen, "cannot listen: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	s->unix_path[0] = '\0';
	return -1;
}

struct metrics_server *
metrics_server_start(struct loop *loop, const char *address,
    const struct metrics_source *src, char *err, size_t errlen)
{
	struct metrics_server *s = gdp_calloc(1, sizeof(*s));
	struct metrics_address a;
	int fd;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->src = *src;
	s->beat_ms = loop_now_ms();
	if (metrics_address_parse(address, &a, err, errlen) < 0 ||
	    (fd = listen_on(s, &a, err, errlen)) < 0)
		goto fail;
	s->http = http_server_start(loop, fd, on_request, s);
	if (s->http == NULL) {
		snprintf(err, errlen, "cannot serve: %s", strerror(errno));
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
	http_server_free(s->http);
	if (s->unix_path[0] != '\0')
		(void)unlink(s->unix_path);
	gdp_free(s);
}
