/*
 * kubelet.c: registration and kubelet-restart detection (see kubelet.h).
 *
 * Nothing here may leave the plugin unregistered for good: every retry is
 * a timer, and a timer is memory. So a watchdog timer, made once with the
 * link, sleeps while all is well and is brought forward (which cannot
 * fail) when something could not be scheduled or done: a retry timer that
 * could not be had (it then registers every WATCHDOG_MS until that works),
 * a socket that could not be served (served again after 10 ms, 20 ms, ...
 * up to SERVE_BACKOFF_MAX_MS between tries), a directory that could not be
 * watched (watched again every WATCHDOG_MS).
 *
 * The directory itself may go: removed, or moved away (IN_DELETE_SELF,
 * IN_MOVE_SELF, IN_IGNORED on its watch). Its parent is then watched for
 * its return (IN_CREATE or IN_MOVED_TO of its name), or, if the parent
 * cannot be watched either, the watchdog tries every WATCHDOG_MS. Once it
 * is back it is watched again and the plugin serves there again: the new
 * directory is the one the kubelet uses, and a watch left on the old one
 * would miss every later kubelet restart.
 */
#include "kubelet.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deviceplugin.pb-c.h"
#include "grpc/client.h"
#include "metrics/registry.h"
#include "util/alloc.h"
#include "util/log.h"

#define BACKOFF_FIRST_MS 1
#define BACKOFF_MAX_MS 2000
#define SERVE_BACKOFF_FIRST_MS 10
#define SERVE_BACKOFF_MAX_MS 2000
#define DIR_EVENTS (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | \
	IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define PARENT_EVENTS (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)
/* Long enough for the kubelet's own 10 s dial-back inside Register. */
#define REGISTER_TIMEOUT_MS 30000
#define WATCHDOG_MS 2000
#define WATCHDOG_IDLE_MS (24LL * 3600 * 1000)
/* After a stream ends, how soon to look for a new one; after a Register,
 * how long the kubelet has to open it at first, doubled each time that
 * was not enough (a loaded kubelet is slow, not gone), up to the most. */
#define WATCH_CHECK_MS 1000
#define WATCH_GRACE_FIRST_MS 5000
#define WATCH_GRACE_MAX_MS 60000

struct socket_id {
	bool there;
	ino_t ino;
	struct timespec ctim;
};

struct kubelet_link {
	struct loop *loop;
	char *socket;               /* the kubelet's registration socket */
	char *dir;
	char *parent;               /* |dir|'s, or NULL when |dir| is "/" */
	const char *socket_name;    /* into |socket| */
	char *dir_name;             /* |dir|'s last component, or NULL */
	struct plugin *plugin;
	int inotify_fd;
	int dir_wd;                 /* the watch on |dir|, or -1: it is gone */
	int parent_wd;              /* on |parent| while |dir| is gone, or -1 */
	struct grpc_client_call *call;
	struct loop_timer *retry;
	struct loop_timer *watchdog;
	struct loop_timer *watch_check; /* is the kubelet watching? */
	bool retry_lost;            /* a retry could not be scheduled */
	bool serve_failed;          /* the last serve failed: try again */
	int serve_error;            /* its -errno, logged once per cause */
	int64_t serve_backoff_ms;   /* until the next try after the next one */
	int64_t serve_delay_ms;     /* until the next try */
	int64_t backoff_ms;
	int64_t watch_grace_ms;     /* after a Register: see WATCH_GRACE_* */
	unsigned failures;          /* in the current episode */
	bool registered;            /* the last Register sent was answered OK */
	struct socket_id register_to; /* |socket| when the Register was sent */
};

/*
 * Which kubelet.sock is at |path| now: its inode and the time it was made
 * (an inode number alone may be reused by the next socket); |there| is
 * false when there is none.
 */
static struct socket_id
socket_id(const char *path)
{
	struct stat st;
	struct socket_id id = { 0 };

	if (lstat(path, &st) == 0) {
		id.there = true;
		id.ino = st.st_ino;
		id.ctim = st.st_ctim;
	}
	return id;
}

static bool
same_socket(struct socket_id a, struct socket_id b)
{
	return a.there && b.there && a.ino == b.ino &&
	    a.ctim.tv_sec == b.ctim.tv_sec && a.ctim.tv_nsec == b.ctim.tv_nsec;
}

static void register_now(struct kubelet_link *link);
static void arm_watch_check(struct kubelet_link *link, int64_t ms);

/* When the watchdog has something to do next. */
static int64_t
watchdog_delay(const struct kubelet_link *link)
{
	int64_t ms = WATCHDOG_IDLE_MS;

	if (link->serve_failed && link->serve_delay_ms < ms)
		ms = link->serve_delay_ms;
	if ((link->retry_lost || (link->dir_wd < 0 && link->parent_wd < 0)) &&
	    WATCHDOG_MS < ms)
		ms = WATCHDOG_MS;
	return ms;
}

/* Brings the watchdog forward: something could not be scheduled or done.
 * (From the watchdog's own callback this does nothing: it returns the
 * same delay.) */
static void
wake_watchdog(struct kubelet_link *link)
{
	if (link->watchdog != NULL)
		loop_timer_reset(link->loop, link->watchdog,
		    watchdog_delay(link));
}

static int64_t
retry_register(struct loop *loop, void *arg)
{
	struct kubelet_link *link = arg;

	link->retry = NULL;
	register_now(link);
	return LOOP_NOMORE;
}

static void
schedule_retry(struct kubelet_link *link)
{
	link->retry = loop_add_timer(link->loop, link->backoff_ms,
	    retry_register, link);
	if (link->retry == NULL && !link->retry_lost)
		log_error("Cannot schedule a Register retry (out of memory); "
		    "retrying within %d ms", WATCHDOG_MS);
	link->retry_lost = link->retry == NULL;
	if (link->retry_lost)
		wake_watchdog(link);
	link->backoff_ms *= 2;
	if (link->backoff_ms > BACKOFF_MAX_MS)
		link->backoff_ms = BACKOFF_MAX_MS;
}

static void
on_registered(int code, const char *message, const ProtobufCMessage *resp,
    void *arg)
{
	struct kubelet_link *link = arg;
	const char *res = plugin_resource(link->plugin);

	link->call = NULL;
	metrics_registration(code == GRPC_OK);
	link->registered = code == GRPC_OK;
	if (code == GRPC_OK) {
		if (link->failures > 0)
			log_info("Registration works again after %u failed "
			    "attempts", link->failures);
		log_info("Registered device plugin for '%s' with Kubelet "
		    "(endpoint %s)", res, plugin_endpoint(link->plugin));
		link->failures = 0;
		link->backoff_ms = BACKOFF_FIRST_MS;
		/* A look due sooner (the last stream's end) would not give the
		 * kubelet its grace after this Register. */
		if (link->watch_check != NULL) {
			loop_cancel_timer(link->loop, link->watch_check);
			link->watch_check = NULL;
		}
		arm_watch_check(link, link->watch_grace_ms);
		return;
	}
	if (link->failures++ == 0)
		log_warn("Could not register '%s' with the kubelet at %s: "
		    "%s: %s; retrying (every %d ms at most) until it answers",
		    res, link->socket, grpc_code_name(code), message,
		    BACKOFF_MAX_MS);
	schedule_retry(link);
}

static void
register_now(struct kubelet_link *link)
{
	V1beta1__DevicePluginOptions opts =
	    V1BETA1__DEVICE_PLUGIN_OPTIONS__INIT;
	V1beta1__RegisterRequest req = V1BETA1__REGISTER_REQUEST__INIT;
	struct grpc_client_request call = { 0 };
	int rc;

	if (link->call != NULL)
		grpc_client_call_cancel(link->call);
	link->call = NULL;
	link->registered = false;   /* until this Register is answered */
	if (link->retry != NULL)
		loop_cancel_timer(link->loop, link->retry);
	link->retry = NULL;
	link->retry_lost = false;
	if (link->serve_failed)
		return; /* nothing to register: serving again registers */
	/* The same options GetDevicePluginOptions answers (old kubelets
	 * read these, new ones ask). */
	opts.get_preferred_allocation_available = 1;
	req.version = "v1beta1";
	req.endpoint = (char *)plugin_endpoint(link->plugin);
	req.resource_name = (char *)plugin_resource(link->plugin);
	req.options = &opts;
	call.socket_path = link->socket;
	link->register_to = socket_id(link->socket);
	call.method = "/v1beta1.Registration/Register";
	call.message = &req.base;
	call.response_type = &v1beta1__empty__descriptor;
	call.timeout_ms = REGISTER_TIMEOUT_MS;
	rc = grpc_client_call(link->loop, &call, on_registered, link,
	    &link->call);
	if (rc < 0) {
		log_error("Cannot start a Register call: %s", strerror(-rc));
		schedule_retry(link);
	}
}

/* Logs a failed serve, once per cause (the retries stay quiet). */
static void
log_serve_failure(struct kubelet_link *link, int rc, bool at_start)
{
	const char *path = plugin_socket_path(link->plugin);

	if (rc == -EADDRINUSE && at_start) {
		log_error("Another process is serving on %s (it accepts "
		    "connections): not taking it over; exiting (is another "
		    "instance of the plugin running?)", path);
		return;
	}
	if (link->serve_failed && rc == link->serve_error)
		return;
	if (rc == -EADDRINUSE)
		log_error("Another process is serving on %s (it accepts "
		    "connections): not taking it over; serving there once it "
		    "is gone (checking every %d ms at most)", path,
		    SERVE_BACKOFF_MAX_MS);
	else if (rc == -ENOTEMPTY)
		log_error("Cannot serve on %s: a directory that is not empty "
		    "is there (a hostPath mount of a missing file?); not "
		    "removing it; trying again every %d ms at most", path,
		    SERVE_BACKOFF_MAX_MS);
	else
		log_error("Cannot serve on %s: %s; trying again every %d ms "
		    "at most", path, strerror(-rc), SERVE_BACKOFF_MAX_MS);
}

/*
 * Serves and registers, or notes the failure and when to try again
 * (backoff). Returns 0 or plugin_serve()'s -errno. From the watchdog, the
 * watchdog's return value arms the next try; from elsewhere, the caller
 * wakes it.
 */
static int
serve_now(struct kubelet_link *link, bool at_start)
{
	int rc = plugin_serve(link->plugin);

	if (rc < 0) {
		log_serve_failure(link, rc, at_start);
		if (!link->serve_failed)
			link->serve_backoff_ms = SERVE_BACKOFF_FIRST_MS;
		link->serve_failed = true;
		link->serve_error = rc;
		link->serve_delay_ms = link->serve_backoff_ms;
		link->serve_backoff_ms *= 2;
		if (link->serve_backoff_ms > SERVE_BACKOFF_MAX_MS)
			link->serve_backoff_ms = SERVE_BACKOFF_MAX_MS;
		return rc;
	}
	link->serve_failed = false;
	link->serve_error = 0;
	log_info("Starting to serve '%s' on %s", plugin_resource(link->plugin),
	    plugin_socket_path(link->plugin));
	link->backoff_ms = BACKOFF_FIRST_MS;
	register_now(link);
	return 0;
}

bool
kubelet_link_registered(const struct kubelet_link *link)
{
	return link->registered;
}

int
kubelet_link_restart(struct kubelet_link *link, bool at_start)
{
	int rc = serve_now(link, at_start);

	if (rc == -EADDRINUSE && at_start) {
		link->serve_failed = false; /* the caller exits */
		return rc;
	}
	if (rc < 0)
		wake_watchdog(link);
	return rc;
}

/* Watches |dir| (again), and serves there once it is back. */
static void
watch_dir_again(struct kubelet_link *link)
{
	if (link->parent_wd < 0 && link->parent != NULL)
		link->parent_wd = inotify_add_watch(link->inotify_fd,
		    link->parent, PARENT_EVENTS);
	/* After the parent's watch: a directory made in between is seen. */
	link->dir_wd = inotify_add_watch(link->inotify_fd, link->dir,
	    DIR_EVENTS);
	if (link->dir_wd < 0) {
		wake_watchdog(link); /* polls when the parent is gone too */
		return;
	}
	if (link->parent_wd >= 0)
		(void)inotify_rm_watch(link->inotify_fd, link->parent_wd);
	link->parent_wd = -1;
	log_info("inotify: %s is there again; serving in it.", link->dir);
	(void)kubelet_link_restart(link, false); /* failures are retried */
}

/* The directory was removed or moved away: its watch is dead. */
static void
dir_gone(struct kubelet_link *link)
{
	(void)inotify_rm_watch(link->inotify_fd, link->dir_wd); /* moved */
	link->dir_wd = -1;
	log_warn("inotify: %s was removed or moved away; serving in it again "
	    "once it is back.", link->dir);
	watch_dir_again(link);
}

/* What one read of the inotify fd said. */
struct dir_news {
	bool kubelet_new;   /* kubelet.sock created */
	bool ours_gone;     /* our socket removed */
	bool dir_gone;      /* the directory removed or moved away */
	bool dir_back;      /* its name made again in the parent */
};

static void
read_event(const struct kubelet_link *link, const struct inotify_event *ev,
    struct dir_news *news)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		/* Events were lost: check what they could have said. */
		news->kubelet_new = news->ours_gone = true;
		news->dir_back = link->dir_wd < 0;
		return;
	}
	if (ev->wd == link->parent_wd && ev->len > 0 &&
	    !strcmp(ev->name, link->dir_name))
		news->dir_back = true;
	if (ev->wd != link->dir_wd || link->dir_wd < 0)
		return;
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
		news->dir_gone = true;
	if (ev->len == 0)
		return;
	if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
	    !strcmp(ev->name, link->socket_name))
		news->kubelet_new = true;
	if ((ev->mask & (IN_DELETE | IN_MOVED_FROM)) &&
	    !strcmp(ev->name, plugin_endpoint(link->plugin)))
		news->ours_gone = true;
}

/* Reads what inotify has; restarts on kubelet.sock or our socket. */
static void
on_dir_event(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct kubelet_link *link = arg;
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	struct dir_news news = { 0 };
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			p += sizeof(*ev) + ev->len;
			read_event(link, ev, &news);
		}
	}
	if (news.kubelet_new)
		metrics_kubelet_restart();
	if ((news.ours_gone || news.kubelet_new) &&
	    !plugin_socket_intact(link->plugin)) {
		if (news.ours_gone)
			log_info("inotify: %s removed (kubelet restart?), "
			    "serving again.", plugin_socket_path(link->plugin));
		else
			log_info("inotify: %s created and %s not served: "
			    "serving again.", link->socket,
			    plugin_socket_path(link->plugin));
		(void)kubelet_link_restart(link, false); /* retried */
	} else if (news.kubelet_new && (link->call != NULL ||
	    link->registered) &&
	    same_socket(link->register_to, socket_id(link->socket))) {
		/* Served again when the kubelet removed our socket, and that
		 * Register went to this very kubelet.sock: a second one would
		 * only replace the endpoint the kubelet is about to watch. */
		log_info("inotify: %s created; the Register sent after serving "
		    "again went to it already.", link->socket);
	} else if (news.kubelet_new) {
		/* Our socket is still there (it was already served again when
		 * the kubelet removed it): registering is all that is left. */
		log_info("inotify: %s created, registering again.",
		    link->socket);
		link->backoff_ms = BACKOFF_FIRST_MS;
		register_now(link);
	}
	if (news.dir_gone && link->dir_wd >= 0)
		dir_gone(link);
	else if (news.dir_back && link->dir_wd < 0)
		watch_dir_again(link);
}

/*
 * A registration is only as good as the ListAndWatch stream the kubelet
 * opens after it: if that stream never comes (its request lost to a
 * connection closed for want of memory, say) or ends while we serve, the
 * kubelet counts our devices as gone until we register again. So a while
 * after each registration, and a second after the last stream ends, we
 * look: no stream and no Register in flight means register again. The
 * wait after a Register is seconds, and grows each time it was not
 * enough: registering again replaces the endpoint a slow kubelet is about
 * to watch, so a wait shorter than the kubelet's delay would register
 * forever and never be served.
 */
static int64_t
check_watched(struct loop *loop, void *arg)
{
	struct kubelet_link *link = arg;
	int64_t next = link->watch_grace_ms * 2;

	link->watch_check = NULL;
	if (plugin_watched(link->plugin)) {
		link->watch_grace_ms = WATCH_GRACE_FIRST_MS;
		return LOOP_NOMORE;
	}
	/* Not while nothing is served: serving again registers. */
	if (link->call != NULL || link->retry != NULL || link->serve_failed)
		return LOOP_NOMORE;
	link->watch_grace_ms = next < WATCH_GRACE_MAX_MS ? next :
	    WATCH_GRACE_MAX_MS;
	log_warn("The kubelet has no ListAndWatch stream open for '%s'; "
	    "registering again (it gets %lld ms to open one)",
	    plugin_resource(link->plugin), (long long)link->watch_grace_ms);
	register_now(link);
	return LOOP_NOMORE;
}

/* Looks in |ms| (unless a look is already due) whether a stream is open. */
static void
arm_watch_check(struct kubelet_link *link, int64_t ms)
{
	if (link->watch_check == NULL)
		link->watch_check = loop_add_timer(link->loop, ms,
		    check_watched, link);
	if (link->watch_check == NULL) {
		link->retry_lost = true; /* the watchdog registers again */
		wake_watchdog(link);
	}
}

static void
on_unwatched(void *arg)
{
	arm_watch_check(arg, WATCH_CHECK_MS);
}

/* Starts again what could not be scheduled or done when it should have. */
static int64_t
watchdog(struct loop *loop, void *arg)
{
	struct kubelet_link *link = arg;

	if (link->dir_wd < 0)
		watch_dir_again(link);
	else if (link->serve_failed)
		(void)serve_now(link, false);
	else if (link->retry_lost)
		register_now(link);
	return watchdog_delay(link);
}

/* Watches the kubelet's directory. Returns 0 or -errno, with |err|. */
static int
watch_dir(struct kubelet_link *link, char *err, size_t errlen)
{
	int rc;

	link->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (link->inotify_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot watch %s: inotify: %s", link->dir,
		    strerror(-rc));
		return rc;
	}
	link->dir_wd = inotify_add_watch(link->inotify_fd, link->dir,
	    DIR_EVENTS);
	if (link->dir_wd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot watch %s: %s (does it exist?)",
		    link->dir, strerror(-rc));
		return rc;
	}
	rc = loop_add_fd(link->loop, link->inotify_fd, LOOP_READ,
	    on_dir_event, link);
	if (rc < 0)
		snprintf(err, errlen, "cannot watch %s: %s", link->dir,
		    strerror(-rc));
	return rc;
}

/* Splits |link->socket| into its directory, the directory's parent and
 * names. Returns 0 or -1 with |err|. */
static int
split_path(struct kubelet_link *link, const char *kubelet_socket, char *err,
    size_t errlen)
{
	char *slash = strrchr(link->dir, '/');

	if (slash == NULL || slash[1] == '\0') {
		snprintf(err, errlen, "--kubelet-socket \"%s\" is not a path "
		    "to a socket file", kubelet_socket);
		return -1;
	}
	if (slash == link->dir)
		slash[1] = '\0'; /* the socket is in "/" */
	else
		*slash = '\0';
	link->socket_name = strrchr(link->socket, '/') + 1;
	slash = strrchr(link->dir, '/');
	if (slash == link->dir && slash[1] == '\0')
		return 0;       /* "/" has no parent, and never goes */
	link->dir_name = gdp_strdup(slash + 1);
	link->parent = gdp_strdup(link->dir);
	if (link->dir_name == NULL || link->parent == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (slash == link->dir)
		link->parent[1] = '\0';
	else
		link->parent[slash - link->dir] = '\0';
	return 0;
}

struct kubelet_link *
kubelet_link_new(struct loop *loop, const char *kubelet_socket,
    struct plugin *plugin, char *err, size_t errlen)
{
	struct kubelet_link *link = gdp_calloc(1, sizeof(*link));

	if (link == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	link->loop = loop;
	link->plugin = plugin;
	plugin_on_unwatched(plugin, on_unwatched, link);
	link->inotify_fd = -1;
	link->dir_wd = link->parent_wd = -1;
	link->watch_grace_ms = WATCH_GRACE_FIRST_MS;
	link->backoff_ms = BACKOFF_FIRST_MS;
	link->socket = gdp_strdup(kubelet_socket);
	link->dir = gdp_strdup(kubelet_socket);
	if (link->socket == NULL || link->dir == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out_free_link;
	}
	if (split_path(link, kubelet_socket, err, errlen) < 0)
		goto out_free_link;
	if (watch_dir(link, err, errlen) < 0)
		goto out_free_link;
	link->watchdog = loop_add_timer(loop, WATCHDOG_IDLE_MS, watchdog,
	    link);
	if (link->watchdog == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out_free_link;
	}
	return link;
out_free_link:
	kubelet_link_free(link);
	return NULL;
}

void
kubelet_link_set_plugin(struct kubelet_link *link, struct plugin *plugin)
{
	link->plugin = plugin;
	plugin_on_unwatched(plugin, on_unwatched, link);
}

void
kubelet_link_free(struct kubelet_link *link)
{
	if (link == NULL)
		return;
	if (link->call != NULL)
		grpc_client_call_cancel(link->call);
	if (link->retry != NULL)
		loop_cancel_timer(link->loop, link->retry);
	if (link->watchdog != NULL)
		loop_cancel_timer(link->loop, link->watchdog);
	if (link->watch_check != NULL)
		loop_cancel_timer(link->loop, link->watch_check);
	if (link->inotify_fd >= 0) {
		loop_del_fd(link->loop, link->inotify_fd);
		close(link->inotify_fd);
	}
	gdp_free(link->socket);
	gdp_free(link->dir);
	gdp_free(link->parent);
	gdp_free(link->dir_name);
	gdp_free(link);
}
