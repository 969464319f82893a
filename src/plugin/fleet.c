/*
 * fleet.c: the served resources and their changes (see fleet.h).
 *
 * Layout: one served resource (its plugin and, when registering, its
 * kubelet link): making, serving and freeing it; then fleet_apply(),
 * in two phases: prepare (match by name, make what is new: the only
 * step that can fail, and undone whole if it does), then commit (stop
 * what is gone, hand the new resources to the plugins kept, serve what
 * is new).
 */
#include "fleet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "plugin/kubelet.h"
#include "plugin/plugin.h"
#include "util/alloc.h"
#include "util/log.h"

struct served {
	struct plugin *plugin;
	struct resource *res;          /* the one |plugin| serves */
	struct kubelet_link *link;     /* NULL: not registering */
	bool fresh;                    /* made by this apply: to serve */
};

struct fleet {
	struct loop *loop;
	char socket_dir[4096];
	char kubelet_socket[4096];
	struct grpc_server_options server;
	void (*before_allocate)(void *arg);
	void *before_allocate_arg;
	struct served *s;              /* owned, |n|, in the table's order */
	size_t n;
};

/* ---- one served resource ---- */

static int
make_served(struct fleet *f, struct resource *res, struct served *s,
    char *err, size_t errlen)
{
	size_t max = sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1;
	int rc;

	s->res = res;
	s->plugin = plugin_new(f->loop, res, f->socket_dir);
	if (s->plugin == NULL && errno == ENAMETOOLONG) {
		snprintf(err, errlen, "Cannot serve '%s': the socket path "
		    "%s/%s is longer than the %zu bytes a unix socket path may "
		    "have; give --kubelet-socket a shorter directory",
		    res->name, f->socket_dir, res->socket_name, max);
		return -ENAMETOOLONG;
	}
	if (s->plugin == NULL) {
		rc = -errno;
		snprintf(err, errlen, "Cannot serve '%s' in %s: %s", res->name,
		    f->socket_dir, strerror(-rc));
		return rc;
	}
	plugin_set_server_options(s->plugin, &f->server);
	if (f->before_allocate != NULL)
		plugin_before_allocate(s->plugin, f->before_allocate,
		    f->before_allocate_arg);
	if (f->kubelet_socket[0] == '\0')
		return 0;
	s->link = kubelet_link_new(f->loop, f->kubelet_socket, s->plugin, err,
	    errlen);
	if (s->link == NULL) {
		plugin_free(s->plugin);
		s->plugin = NULL;
		return -EIO;
	}
	return 0;
}

static void
free_served(struct served *s)
{
	kubelet_link_free(s->link);
	plugin_free(s->plugin);     /* GOAWAY, and the socket removed */
	s->link = NULL;
	s->plugin = NULL;
}

/* Serves (and registers) a new resource. Returns 0, or -EADDRINUSE at
 * start (another process on the socket); other failures are retried. */
static int
serve_served(struct served *s, bool at_start)
{
	int rc;

	s->fresh = false;
	if (s->link != NULL) {
		rc = kubelet_link_restart(s->link, at_start);
		return rc == -EADDRINUSE && at_start ? rc : 0;
	}
	log_info("Skipping registration with Kubelet (--kubelet-socket is "
	    "empty)");
	rc = plugin_serve(s->plugin);
	if (rc < 0)
		log_error("Cannot serve on %s: %s",
		    plugin_socket_path(s->plugin), strerror(-rc));
	else
		log_info("Starting to serve '%s' on %s",
		    plugin_resource(s->plugin), plugin_socket_path(s->plugin));
	return rc == -EADDRINUSE && at_start ? rc : 0;
}

/* ---- the fleet ---- */

struct fleet *
fleet_new(struct loop *loop, const struct fleet_options *opts)
{
	struct fleet *f = gdp_calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->loop = loop;
	snprintf(f->socket_dir, sizeof(f->socket_dir), "%s",
	    opts->socket_dir);
	snprintf(f->kubelet_socket, sizeof(f->kubelet_socket), "%s",
	    opts->kubelet_socket);
	f->server = opts->server;
	f->before_allocate = opts->before_allocate;
	f->before_allocate_arg = opts->before_allocate_arg;
	return f;
}

/* The served resource named |name| not yet taken, or -1. */
static ptrdiff_t
find_served(const struct fleet *f, const char *name, const bool *taken)
{
	for (size_t k = 0; k < f->n; k++)
		if (!taken[k] && !strcmp(plugin_resource(f->s[k].plugin), name))
			return (ptrdiff_t)k;
	return -1;
}

/* Phase 1: |next| in |res|'s order, the kept ones marked in |taken|. */
static int
prepare(struct fleet *f, struct resources *res, struct served *next,
    bool *taken, char *err, size_t errlen)
{
	for (size_t i = 0; i < res->n; i++) {
		ptrdiff_t k = find_served(f, res->res[i].name, taken);
		int rc;

		if (k >= 0) {
			next[i] = f->s[k];
			taken[k] = true;
			continue;
		}
		rc = make_served(f, &res->res[i], &next[i], err, errlen);
		if (rc < 0) {
			for (size_t j = 0; j < i; j++)
				if (next[j].fresh)
					free_served(&next[j]);
			return rc;
		}
		next[i].fresh = true;
	}
	return 0;
}

/* A kept plugin takes its new resource; counted and logged. */
static void
hand_over(struct served *s, struct resource *res, struct fleet_change *chg)
{
	const struct resource *old = plugin_current(s->plugin);
	bool same_answers;

	/* Withheld until told otherwise (an MPS daemon not ready yet). */
	if (old->withheld)
		(void)resources_withhold(res, true, old->withheld_reason);
	same_answers = resource_same_answers(old, res);
	s->res = res;

	if (plugin_set_resource(s->plugin, res)) {
		chg->relisted++;
		log_info("Serving '%s' with the new device list (%zu "
		    "device(s)); still registered", res->name, res->n);
	} else if (!same_answers) {
		chg->answers++;
		log_info("Serving '%s' with new Allocate answers (the same "
		    "devices advertised); still registered", res->name);
	} else {
		chg->kept++;
	}
}

int
fleet_apply(struct fleet *f, struct resources *res, bool at_start,
    struct fleet_change *chg, char *err, size_t errlen)
{
	struct served *next = gdp_calloc(res->n + 1, sizeof(*next));
	bool *taken = gdp_calloc(f->n + 1, sizeof(*taken));
	int rc = -ENOMEM;

	memset(chg, 0, sizeof(*chg));
	snprintf(err, errlen, "out of memory");
	if (next == NULL || taken == NULL ||
	    (rc = prepare(f, res, next, taken, err, errlen)) < 0) {
		gdp_free(next);
		gdp_free(taken);
		return rc;
	}
	for (size_t k = 0; k < f->n; k++) {
		if (taken[k])
			continue;
		log_info("Stopped serving '%s': no longer advertised (no "
		    "devices, or not in the configuration); %s removed",
		    plugin_resource(f->s[k].plugin),
		    plugin_socket_path(f->s[k].plugin));
		free_served(&f->s[k]);
		chg->stopped++;
	}
	for (size_t i = 0; i < res->n; i++)
		if (!next[i].fresh)
			hand_over(&next[i], &res->res[i], chg);
	gdp_free(f->s);
	gdp_free(taken);
	f->s = next;
	f->n = res->n;
	rc = 0;
	for (size_t i = 0; i < f->n && rc == 0; i++)
		if (f->s[i].fresh) {
			chg->started++;
			rc = serve_served(&f->s[i], at_start);
		}
	return rc;
}

void
fleet_publish(struct fleet *f)
{
	for (size_t i = 0; f != NULL && i < f->n; i++)
		plugin_publish(f->s[i].plugin);
}

int
fleet_withhold(struct fleet *f, const char *name, bool withhold,
    const char *reason)
{
	for (size_t i = 0; f != NULL && i < f->n; i++) {
		if (strcmp(f->s[i].res->name, name) != 0)
			continue;
		if (resources_withhold(f->s[i].res, withhold, reason))
			log_info("%s '%s': %s", withhold ? "Withholding" :
			    "No longer withholding", name, withhold ? reason :
			    "its devices are listed with their own health");
		plugin_publish(f->s[i].plugin);
		return 0;
	}
	return -ENOENT;
}

bool
fleet_ready(const struct fleet *f, char *why, size_t len)
{
	for (size_t i = 0; f != NULL && i < f->n; i++)
		if (f->s[i].link != NULL &&
		    !kubelet_link_registered(f->s[i].link)) {
			snprintf(why, len, "%s: not registered with the kubelet "
			    "(yet)", plugin_resource(f->s[i].plugin));
			return false;
		}
	return true;
}

uint64_t
fleet_connections(const struct fleet *f)
{
	uint64_t n = 0;

	for (size_t i = 0; f != NULL && i < f->n; i++)
		n += plugin_connections(f->s[i].plugin);
	return n;
}

size_t
fleet_size(const struct fleet *f)
{
	return f != NULL ? f->n : 0;
}

void
fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		free_served(&f->s[i]);
	gdp_free(f->s);
	gdp_free(f);
}
