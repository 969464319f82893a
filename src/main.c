/*
 * main.c: gpu-device-plugin, the process.
 *
 * Reads the settings, loads NVML, discovers the GPUs, builds the resource
 * table (src/resources), writes the CDI spec when a cdi-* device-list
 * strategy is on (src/cdi), and serves it to the kubelet on one event loop
 * (plugin/fleet.h: one socket and registration per resource) until
 * SIGTERM or SIGINT (stop, remove the sockets, exit 0). The health
 * monitor's snapshots go straight to the resource core, which marks what
 * changed for the plugins to publish. `list` prints what a node would
 * advertise and exits. Serving drops every capability first and puts
 * every thread under a seccomp allowlist once set up (src/sandbox).
 *
 * SIGHUP, the config file changing (config/watch.h), or NVML telling of
 * a MIG layout change (health/monitor.h; after a second's quiet) reloads:
 * the
 * start's own steps again (load_config(), then apply()), so that start
 * and reload cannot drift apart, with what is served changed only where
 * the new table differs and health carried over. A reload never exits:
 * a configuration that cannot be used, or a discovery that fails, is
 * logged and changes nothing.
 *
 * --check-config reads flags, environment and config file, prints the
 * configuration in effect and exits, without NVML or a kubelet.
 *
 * Exit codes: 0 stopped by a signal or --help/--version/list, or a good
 * --check-config; 1 a start-up failure (a bad config file or value from
 * it, a valid NVIDIA setting this plugin does not support, NVML failure
 * with --fail-on-init-error, no GPUs with --fail-on-no-gpus, a node
 * --mig-strategy single or mixed refuses, in NVIDIA's words; another
 * process serving on our socket),
 * or any error with --check-config; 2 an unusable command line or value.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "cdi/cdi.h"
#include "config/effective.h"
#include "config/file.h"
#include "config/flags.h"
#include "config/watch.h"
#include "gpu/inventory.h"
#include "health/monitor.h"
#include "labels/labels.h"
#include "loop/loop.h"
#include "metrics/http.h"
#include "metrics/process.h"
#include "metrics/registry.h"
#include "metrics/text.h"
#include "mps/command.h"
#include "nvml/nvml.h"
#include "plugin/fleet.h"
#include "plugin/mpsready.h"
#include "resources/resources.h"
#include "sandbox/sandbox.h"
#include "util/alloc.h"
#include "util/log.h"
#include "util/notify.h"
#include "revision.h"
#include "version.h"

#define DEFAULT_SOCKET_DIR "/var/lib/kubelet/device-plugins"
#define MPS_MOUNT "/mps"          /* --mps-root in NVIDIA's plugin container */
/* Descriptors kept out of the connection cap's reach: NVML's device
 * files, the loop's, the registration socket, inotify. */
#define FD_RESERVE ((rlim_t)64)

/*
 * The device-list strategy and CDI settings (docs/plugin.md, docs/cdi.md)
 * as the resource core and the CDI writer take them, from struct config;
 * filled by strategy_settings().
 */
struct strategy_settings {
	unsigned strategies;            /* STRATEGY_*, never 0 */
	bool gdrcopy, gds, mofed;
	unsigned imex[RESOURCES_MAX_IMEX];
	size_t n_imex;
	bool imex_required;
	const char *cdi_annotation_prefix;
	const char *cdi_hook_path;
	const char *cdi_disable_hooks;  /* comma-separated, "all" */
	char disable_hooks[CONFIG_LIST_MAX * CONFIG_ITEM_MAX];
	const char *cdi_spec_dir;
	/* Where this process sees the host's dev root and driver root. */
	char dev_root_seen[4096];
	char driver_root_seen[4096];
};

struct daemon {
	int argc;
	char **argv;                    /* kept from the start, for reloads */
	struct config cfg;
	struct strategy_settings st;
	struct cfgfile *file;           /* cfg's strings may point into it */
	struct loop *loop;
	struct nvml *nvml;
	bool nvml_ready;
	struct inventory *inv;
	struct resources *res;
	struct fleet *fleet;
	struct health_monitor *health;
	struct health_options health_opts; /* |health|'s */
	struct loop_timer *layout_timer; /* a MIG layout change's reload */
	struct config_watch *watch;     /* the config file's, or NULL */
	char socket_dir[4096];
	struct grpc_server_options server_opts;
	struct notifier notify;         /* the service manager, if any */
	struct metrics_server *metrics; /* --metrics-address, or NULL */
	/* The MPS daemons' ready files (plugin/mpsready.h), NULL until a
	   resource is shared with MPS; watched under |mps_seen|. */
	struct mps_watch *mps_watch;
	char mps_seen[4096];
};

static int load_config(int, char **, struct config *, struct cfgfile **,
    bool, char *, size_t);
static int show_config(const struct daemon *, bool);
static void gate_mps(struct daemon *, const struct config *,
    const struct resources *);

static int64_t
no_limit_if_0(int64_t ms)
{
	return ms > 0 ? ms : -1;
}

/*
 * The connection cap, below the descriptor limit with room to spare: our
 * own connections then never use up the descriptors that registering
 * with the kubelet and accepting its next connection need.
 */
static uint32_t
connection_cap(int64_t wanted)
{
	struct rlimit rl;
	rlim_t room;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return (uint32_t)wanted;
	room = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE :
	    rl.rlim_cur / 2;
	if (room < 1)
		room = 1;
	if ((rlim_t)wanted <= room)
		return (uint32_t)wanted;
	log_info("--max-connections=%lld lowered to %llu: the descriptor "
	    "limit is %llu", (long long)wanted, (unsigned long long)room,
	    (unsigned long long)rl.rlim_cur);
	return (uint32_t)room;
}

/* Every ended call, counted for /metrics. */
static void
call_ended(const struct grpc_method *m, int code, int64_t ns, void *arg)
{
	(void)arg;
	metrics_rpc(m->path, code, ns);
}

/* The gRPC server's limits, from the flags (checked there). */
static void
server_options_of(const struct config *cfg, struct grpc_server_options *o)
{
	memset(o, 0, sizeof(*o));
	o->max_connections = connection_cap(cfg->max_connections);
	o->max_concurrent_streams = (uint32_t)cfg->max_streams_per_connection;
	o->max_partial_per_conn = (size_t)cfg->max_partial_per_connection;
	o->max_partial_total = (size_t)cfg->max_partial_total;
	o->max_stream_queue = (size_t)cfg->max_output_per_call;
	o->max_conn_queue = (size_t)cfg->max_output_per_connection;
	o->max_total_queue = (size_t)cfg->max_output_total;
	o->max_header_list = (uint32_t)cfg->max_header_list_size;
	/* 0 on the command line is "no limit"; for the server, -1. */
	o->preface_timeout_ms = no_limit_if_0(cfg->preface_timeout_ms);
	o->request_timeout_ms = no_limit_if_0(cfg->request_timeout_ms);
	o->idle_timeout_ms = no_limit_if_0(cfg->idle_timeout_ms);
	o->on_call_end = call_ended;
}

/* Loads and initialises NVML; logs why not (with what to check). */
static int
start_nvml(struct daemon *d, const struct config *cfg)
{
	char err[4096], desc[320];
	struct nvml_error e;

	if (d->nvml == NULL) {
		d->nvml = nvml_open(cfg->driver_root_ctr_path,
		    cfg->driver_root, err, sizeof(err));
		if (d->nvml == NULL) {
			log_error("Failed to initialize NVML: %s.", err);
			log_error("%s", nvml_init_hint(
			    NVML_ERROR_LIBRARY_NOT_FOUND));
			return -ENOENT;
		}
	}
	if (nvml_init(d->nvml, &e) < 0) {
		log_error("Failed to initialize NVML (%s): %s.",
		    nvml_path(d->nvml),
		    nvml_error_text(d->nvml, &e, desc, sizeof(desc)));
		log_error("%s", nvml_init_hint(e.code));
		return -EIO;
	}
	d->nvml_ready = true;
	log_info("Loaded NVML from %s (%s)", nvml_path(d->nvml),
	    nvml_init_symbol(d->nvml));
	if (nvml_missing(d->nvml, err, sizeof(err))[0] != '\0')
		log_warn("NVML at %s lacks %s (an older driver?): what needs "
		    "them stays unknown", nvml_path(d->nvml), err);
	return 0;
}

static void
log_inventory(const struct inventory *inv)
{
	log_info("Driver %s, CUDA %d.%d, %zu GPU(s)", inv->driver_version,
	    inv->cuda_version / 1000, inv->cuda_version % 1000 / 10, inv->n);
	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		log_info("GPU %u: %s %s, %llu MiB, bus %s, NUMA node %d, "
		    "%u NVLinks", g->index, g->uuid, g->name,
		    (unsigned long long)(g->memory_bytes >> 20), g->bus_id,
		    g->numa_node, g->n_links);
	}
	for (size_t i = 0; i < inv->n_skipped; i++)
		log_warn("Not advertised: %s", inv->skipped[i]);
	for (size_t i = 0; i < inv->n_warnings; i++)
		log_warn("%s", inv->warnings[i]);
}

static int
discover(struct daemon *d, const struct config *cfg, struct inventory **out)
{
	char err[512];
	int rc = inventory_discover_roots(d->nvml, cfg->sysfs_root,
	    cfg->proc_root, out, err, sizeof(err));

	if (rc < 0)
		log_error("GPU discovery failed: %s", err);
	return rc;
}

static const char *const mig_names[] = { "none", "single", "mixed" };

/*
 * --mig-strategy, what the log should say before the resources are built
 * (resources/mig.c builds them, and refuses what NVIDIA refuses). none:
 * every GPU is served whole, MIG on or not (as NVIDIA's none), so a GPU
 * with MIG devices is noted. mixed: a GPU with MIG on but no MIG device
 * gives nothing, with NVIDIA's warning.
 */
static void
note_mig_strategy(const struct config *cfg, const struct inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		if (!g->mig_enabled)
			continue;
		if (cfg->mig_strategy == MIG_STRATEGY_NONE)
			log_info("GPU %u (%s) has MIG on (%zu MIG devices): "
			    "with --mig-strategy=none it is served whole",
			    g->index, g->uuid, g->n_migs);
		else if (g->n_migs == 0 &&
		    cfg->mig_strategy == MIG_STRATEGY_MIXED)
			log_warn("device %u has no MIG devices configured "
			    "(%s has MIG on): nothing of it is advertised",
			    g->index, g->uuid);
	}
}

/* ---- device-list strategies and CDI settings ---- */

/* |l|'s items joined with commas into |out| (|len| bytes). */
static void
join_list(const struct config_list *l, char *out, size_t len)
{
	size_t at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n && at < len; i++) {
		int n = snprintf(out + at, len - at, "%s%s", i ? "," : "",
		    l->item[i]);

		if (n < 0)
			break;
		at += (size_t)n;
	}
}

/* The strategy settings from the configuration (flags.c checked them). */
static void
strategy_settings_from_config(const struct config *cfg,
    struct strategy_settings *st)
{
	static const struct { unsigned flag, strategy; } bits[] = {
		{ DEVICE_LIST_ENVVAR, STRATEGY_ENVVAR },
		{ DEVICE_LIST_VOLUME_MOUNTS, STRATEGY_VOLUME_MOUNTS },
		{ DEVICE_LIST_CDI_ANNOTATIONS, STRATEGY_CDI_ANNOTATIONS },
		{ DEVICE_LIST_CDI_CRI, STRATEGY_CDI_CRI },
	};

	st->strategies = 0;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (cfg->device_list_strategies & bits[i].flag)
			st->strategies |= bits[i].strategy;
	if (st->strategies == 0)
		st->strategies = STRATEGY_ENVVAR;
	st->gdrcopy = cfg->gdrcopy_enabled;
	st->gds = cfg->gds_enabled;
	st->mofed = cfg->mofed_enabled;
	st->imex_required = cfg->imex_required;
	st->n_imex = 0;
	for (size_t i = 0; i < cfg->n_imex_channel_ids &&
	    st->n_imex < RESOURCES_MAX_IMEX; i++)
		st->imex[st->n_imex++] = (unsigned)cfg->imex_channel_ids[i];
	st->cdi_annotation_prefix = cfg->cdi_annotation_prefix;
	st->cdi_hook_path = cfg->nvidia_cdi_hook_path;
	join_list(&cfg->cdi_disable_hooks, st->disable_hooks,
	    sizeof(st->disable_hooks));
	st->cdi_disable_hooks = st->disable_hooks;
	st->cdi_spec_dir = cfg->cdi_spec_dir;
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Where this process sees the host path |host|: under the container
 * driver root when |host| is under the host driver root and the
 * container driver root is there (the plugin in a container, the host's
 * driver root mounted at --driver-root-ctr-path), else |host| itself (the
 * plugin on the host).
 */
static void
seen_path(const struct config *cfg, const char *host, char *out,
    size_t len)
{
	const char *root = cfg->driver_root, *ctr = cfg->driver_root_ctr_path;
	size_t rl = strlen(root);

	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	if (ctr[0] != '\0' && strcmp(ctr, root) != 0 && is_dir(ctr) &&
	    strncmp(host, root, rl) == 0 &&
	    (host[rl] == '/' || host[rl] == '\0'))
		snprintf(out, len, "%s%s", ctr, host + rl);
	else
		snprintf(out, len, "%s", host);
}

/*
 * Strategy settings of |cfg| into |st| (which then points into |cfg|'s
 * strings and, for its disabled hooks, into itself: fix that pointer
 * up after copying it), and the IMEX channels that exist: a channel named
 * but missing is dropped with a warning, or an error with
 * --imex-required, as NVIDIA does. 0, or -EINVAL with |err|.
 */
static int
strategy_settings(const struct config *cfg, struct strategy_settings *st,
    char *err, size_t errlen)
{
	char node[4200];
	struct stat sb;

	strategy_settings_from_config(cfg, st);
	seen_path(cfg, cfg->dev_root, st->dev_root_seen,
	    sizeof(st->dev_root_seen));
	snprintf(node, sizeof(node), "%s/dev", st->dev_root_seen);
	if (!is_dir(node)) {
		/* Nothing of the host's /dev where the dev root says: look in
		 * our own, as NVIDIA's plugin always does. */
		log_info("No %s: control nodes are looked for in /dev", node);
		snprintf(st->dev_root_seen, sizeof(st->dev_root_seen), "/");
	}
	seen_path(cfg, cfg->driver_root, st->driver_root_seen,
	    sizeof(st->driver_root_seen));
	for (size_t i = 0; i < st->n_imex; i++) {
		snprintf(node, sizeof(node), "%s/dev/nvidia-caps-imex-channels/"
		    "channel%u", strcmp(st->dev_root_seen, "/") ?
		    st->dev_root_seen : "", st->imex[i]);
		if (stat(node, &sb) == 0)
			continue;
		if (st->imex_required) {
			snprintf(err, errlen, "IMEX channel %u is required "
			    "(--imex-required) but %.300s is missing",
			    st->imex[i], node);
			return -EINVAL;
		}
		log_warn("IMEX channel %u: %s is missing; not passed to "
		    "containers", st->imex[i], node);
		st->n_imex = 0;
	}
	return 0;
}

/*
 * Which /dev control nodes exist, under the dev root as we see it: at
 * discovery and again before each Allocate that can pass them (a stat
 * each; nvidia-uvm appears when its module loads, at the first CUDA
 * call), so the resource core never looks itself.
 */
static void
find_control_nodes(const struct strategy_settings *st,
    bool present[RESOURCES_CONTROL_NODES])
{
	const char *root = strcmp(st->dev_root_seen, "/") ?
	    st->dev_root_seen : "";
	char path[4200];
	struct stat sb;

	for (size_t i = 0; i < RESOURCES_CONTROL_NODES; i++) {
		snprintf(path, sizeof(path), "%s%s", root,
		    resources_control_nodes[i]);
		present[i] = stat(path, &sb) == 0;
	}
}

/* The sharing of |file| in effect (config/effective.h), into |opts|. */
static void
sharing_options(const struct config *cfg, const struct cfgfile *file,
    struct resources_options *opts)
{
	opts->sharing = effective_sharing(file, &opts->sharing_mps);
	opts->mps_root = cfg->mps_root;
	opts->policy = cfg->shared_devices_allocation_policy;
}

/* The resources of |inv|, shared as |file| says. */
static int
build_resources(const struct config *cfg, const struct cfgfile *file,
    const struct strategy_settings *st, const struct inventory *inv,
    struct resources **res)
{
	struct resources_options opts = {
		.resource_name = cfg->resource_name,
		.id_strategy = cfg->device_id_strategy,
		.mig_strategy = cfg->mig_strategy,
		.strategies = st->strategies,
		.pass_device_specs = cfg->pass_device_specs,
		.gdrcopy = st->gdrcopy, .gds = st->gds, .mofed = st->mofed,
		.n_imex = st->n_imex,
		.cdi_annotation_prefix = st->cdi_annotation_prefix,
		.dev_root = cfg->dev_root,
	};
	char err[512];
	int rc;

	memcpy(opts.imex, st->imex, sizeof(opts.imex));
	sharing_options(cfg, file, &opts);
	find_control_nodes(st, opts.control_present);
	rc = resources_build(inv, &opts, res, err, sizeof(err));
	if (rc < 0)
		log_error("Cannot build the resources: %s",
		    rc == -ENOMEM ? "out of memory" : err);
	return rc;
}

/* The devices |res| advertises, over all its resources. */
static size_t
views_of(const struct resources *res)
{
	size_t n = 0;

	for (size_t i = 0; i < res->n; i++)
		n += res->res[i].n;
	return n;
}

/* With a cdi-* strategy: the CDI spec files for |res| (cdi/cdi.h). */
static int
write_cdi(const struct config *cfg, const struct strategy_settings *st,
    const struct resources *res, const struct inventory *inv)
{
	struct cdi_options o = {
		.driver_root = cfg->driver_root,
		.driver_root_seen = st->driver_root_seen,
		.hook_path = st->cdi_hook_path,
		.disable_hooks = st->cdi_disable_hooks,
		.spec_dir = st->cdi_spec_dir,
		.driver_version = inv->driver_version,
		.dev_root_seen = st->dev_root_seen,
		.inv = inv,
	};
	char err[4400];
	struct timespec t0, t1;
	int rc;

	if (!(st->strategies & STRATEGY_CDI) || res->n == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = cdi_update(&o, &res->res[0], err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		log_error("%s", err);
	else
		log_info("Wrote the CDI spec %s/%s-gpu.json (%zu devices "
		    "advertised) in %.3f ms", o.spec_dir, RESOURCES_CDI_VENDOR,
		    views_of(res), (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return rc;
}

/*
 * Before each Allocate: the control nodes as they are now; when that
 * changed, the CDI spec follows, before the runtime resolves the names
 * this answer gives.
 */
static void
before_allocate(void *arg)
{
	struct daemon *d = arg;
	bool present[RESOURCES_CONTROL_NODES];

	if (d->res == NULL || d->inv == NULL ||
	    (!d->cfg.pass_device_specs && !(d->st.strategies & STRATEGY_CDI)))
		return;
	find_control_nodes(&d->st, present);
	if (!resources_set_control_nodes(d->res, present))
		return;
	log_info("The control nodes under %s changed; Allocate passes those "
	    "there now", d->st.dev_root_seen);
	(void)write_cdi(&d->cfg, &d->st, d->res, d->inv);
}

/* ---- health ---- */

/* Health of the physical GPUs, to every view of them, to the kubelet. */
static void
on_health(const struct health_snapshot *snap, void *arg)
{
	struct daemon *d = arg;

	if (resources_set_health(d->res, snap))
		fleet_publish(d->fleet);
}

/* The health monitor's options under |cfg|; false: checks all off. */
static bool
health_options_of(const struct config *cfg, struct health_options *o,
    bool say)
{
	char warn[512];

	memset(o, 0, sizeof(*o));
	o->probe_ms = cfg->health_probe_ms;
	o->quiet_ms = cfg->health_quiet_ms;
	o->unhealthy_without_events = cfg->health_unhealthy_without_events;
	policy_init(&o->policy, cfg->disable_healthchecks,
	    cfg->enable_healthchecks, warn, sizeof(warn));
	if (say && warn[0] != '\0')
		log_warn("%s", warn);
	if (!policy_all_off(&o->policy))
		return true;
	if (say)
		log_info("Health checks disabled (DP_DISABLE_HEALTHCHECKS=%s)",
		    cfg->disable_healthchecks);
	return false;
}

static bool
same_health_options(const struct health_options *a,
    const struct health_options *b)
{
	return memcmp(&a->policy, &b->policy, sizeof(a->policy)) == 0 &&
	    a->probe_ms == b->probe_ms && a->quiet_ms == b->quiet_ms &&
	    a->unhealthy_without_events == b->unhealthy_without_events;
}

/* Whether |a| and |b| are the same GPUs in the same order. */
static bool
same_gpus(const struct inventory *a, const struct inventory *b)
{
	if (a == NULL || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->gpus[i].uuid, b->gpus[i].uuid) != 0)
			return false;
	return true;
}

/* How long the MIG layout must stay still before it is rediscovered:
 * a repartition (nvidia-mig-parted) destroys and makes many instances. */
#define LAYOUT_SETTLE_MS 1000

static void reload(struct daemon *d, const char *why);

static int64_t
on_layout_settled(struct loop *loop, void *arg)
{
	struct daemon *d = arg;

	d->layout_timer = NULL;  /* this one ends with LOOP_NOMORE */
	reload(d, "NVML: the MIG layout changed");
	return LOOP_NOMORE;
}

/*
 * NVML said the MIG layout changed (nvmlEventTypeMigConfigChange): a
 * rediscovery, as SIGHUP's, once it has been still for
 * LAYOUT_SETTLE_MS; from a timer, since the reload may stop the monitor
 * that tells us.
 */
static void
on_layout_change(void *arg)
{
	struct daemon *d = arg;

	if (d->layout_timer != NULL) {
		loop_timer_reset(d->loop, d->layout_timer, LAYOUT_SETTLE_MS);
		return;
	}
	d->layout_timer = loop_add_timer(d->loop, LAYOUT_SETTLE_MS,
	    on_layout_settled, d);
	if (d->layout_timer == NULL)
		log_warn("The MIG layout changed; cannot arm the rediscovery "
		    "(%s): SIGHUP rediscovers", strerror(errno));
	else
		log_info("The MIG layout changed; rediscovering in %d ms",
		    LAYOUT_SETTLE_MS);
}

/*
 * The health monitor for |inv| under |cfg| into |*next|, and the health
 * it knows applied to |res|: the running one when it watches the same
 * GPUs with the same options (a reload that changed neither), else a
 * new one that goes on from what the running one knew of each GPU it
 * still has (health_monitor_inherit); either way the MIG-scoped faults
 * of MIG devices that are gone end. NULL: checks off, no GPUs, or the
 * monitor could not start (logged; the views stay healthy). Nothing is
 * stopped here: the caller keeps one of the two and stops the other.
 */
static void
prepare_health(struct daemon *d, const struct config *cfg,
    const struct inventory *inv, struct resources *res,
    struct health_monitor **next)
{
	struct health_options opts;
	struct health_snapshot snap;
	bool reuse;
	char err[256];

	*next = NULL;
	if (!health_options_of(cfg, &opts, false) || inv->n == 0)
		return;
	reuse = d->health != NULL && same_gpus(d->inv, inv) &&
	    same_health_options(&d->health_opts, &opts);
	if (reuse) {
		*next = d->health;
	} else {
		*next = health_monitor_start(d->loop, d->nvml, inv, &opts,
		    on_health, d, err, sizeof(err));
		if (*next == NULL) {
			log_error("Health checks not running: %s", err);
			return;
		}
		health_monitor_on_layout_change(*next, on_layout_change, d);
		if (d->health != NULL)
			health_monitor_inherit(*next, d->health);
	}
	health_monitor_keep_instances(*next, inv);
	health_monitor_snapshot(*next, &snap);
	(void)resources_set_health(res, &snap);
}

/* Keeps |next| (prepare_health's) as the monitor; stops the other. */
static void
commit_health(struct daemon *d, const struct config *cfg,
    struct health_monitor *next, bool at_start)
{
	struct health_options opts;

	if (next == d->health && (next != NULL || !at_start))
		return;
	health_monitor_stop(d->health);
	d->health = next;
	if (!health_options_of(cfg, &opts, true))
		return;
	d->health_opts = opts;
	if (next != NULL)
		log_info("Health checks on: XID events, and a probe every "
		    "%lld ms", (long long)opts.probe_ms);
}

/* ---- applying a configuration ---- */

/*
 * Discovers under |cfg| (and its strategy settings |st|), writes the CDI
 * spec, and serves what it finds, changing only what differs from what
 * is served (plugin/fleet.h), health carried over.
 * On success the inventory and resources are the daemon's; on failure
 * nothing changed and everything was logged. Returns 0, -EADDRINUSE
 * (at start: another process serves on our socket), or -errno.
 */
static int
apply_discovered(struct daemon *d, const struct config *cfg,
    const struct cfgfile *file, const struct strategy_settings *st,
    bool at_start, struct fleet_change *chg, char **labels)
{
	struct inventory *inv = NULL;
	struct resources *res = NULL;
	struct health_monitor *next;
	char err[1024];
	int rc;

	memset(chg, 0, sizeof(*chg));
	if ((rc = discover(d, cfg, &inv)) < 0)
		return rc;
	log_inventory(inv);
	note_mig_strategy(cfg, inv);
	if (labels_node_text(cfg, file, inv, labels) < 0)
		log_warn("Node labels not updated: out of memory");
	if (inv->n == 0 && at_start && cfg->fail_on_no_gpus) {
		inventory_free(inv);
		log_error("No GPUs found and --fail-on-no-gpus is set.");
		return -ENODEV;
	}
	if (inv->n == 0)
		log_info("No devices found. Waiting indefinitely.");
	if ((rc = build_resources(cfg, file, st, inv, &res)) < 0) {
		inventory_free(inv);
		return rc;
	}
	if (write_cdi(cfg, st, res, inv) < 0) {
		/* At start that is fatal, as NVIDIA's; at a reload the old
		 * spec and plugins go on. */
		resources_free(res);
		inventory_free(inv);
		return -EIO;
	}
	prepare_health(d, cfg, inv, res, &next);
	rc = fleet_apply(d->fleet, res, at_start, chg, err, sizeof(err));
	if (rc < 0 && rc != -EADDRINUSE) {
		/* The old plugins and their health checks go on as they
		 * were. */
		log_error("%s", err);
		if (next != d->health)
			health_monitor_stop(next);
		resources_free(res);
		inventory_free(inv);
		return rc;
	}
	commit_health(d, cfg, next, at_start);
	gate_mps(d, cfg, res);
	resources_free(d->res);
	inventory_free(d->inv);
	d->res = res;
	d->inv = inv;
	fleet_publish(d->fleet);
	return rc;
}

/* ---- MPS readiness: a resource shared with MPS is withheld while its
 * control daemon is not ready (docs/mps.md) ---- */

static void
mps_changed(const char *resource, bool ready, const char *why, void *arg)
{
	struct daemon *d = arg;

	if (ready)
		log_info("MPS control daemon for %s is ready: its devices are "
		    "offered", resource);
	else
		log_warn("MPS control daemon for %s is not ready (%s): its "
		    "devices are withdrawn", resource, why);
	(void)fleet_withhold(d->fleet, resource, !ready, why);
}

/* True when |path| is a directory on another file system than /. */
static bool
is_mount(const char *path)
{
	struct stat st, top;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    stat("/", &top) == 0 && st.st_dev != top.st_dev;
}

/*
 * Where this process sees --mps-root: there when it is a directory (the
 * plugin on the host, or a container that mounts it at the same path);
 * else at /mps when something is mounted there, as NVIDIA's chart mounts
 * the root into the plugin's container; else still there, to be created
 * and watched (the plugin on the host, started before the control
 * daemon made the root).
 */
static void
mps_seen_root(const char *root, char *out, size_t len)
{
	snprintf(out, len, "%s", !is_dir(root) && is_mount(MPS_MOUNT) ?
	    MPS_MOUNT : root);
}

/* Withholds each MPS-shared resource of |res| whose daemon is not ready. */
static void
gate_mps(struct daemon *d, const struct config *cfg,
    const struct resources *res)
{
	char seen[4096], why[MPS_WATCH_WHY];

	mps_seen_root(cfg->mps_root, seen, sizeof(seen));
	if (d->mps_watch != NULL && strcmp(seen, d->mps_seen) != 0) {
		mps_watch_free(d->mps_watch);
		d->mps_watch = NULL;
	}
	for (size_t i = 0; i < res->n; i++) {
		const char *name = res->res[i].name;

		if (res->res[i].sharing != SHARE_MPS)
			continue;
		if (d->mps_watch == NULL) {
			d->mps_watch = mps_watch_new(d->loop, seen,
			    mps_changed, d);
			snprintf(d->mps_seen, sizeof(d->mps_seen), "%s", seen);
		}
		if (d->mps_watch == NULL ||
		    mps_watch_add(d->mps_watch, name) == -ENOMEM) {
			(void)fleet_withhold(d->fleet, name, true, "the MPS "
			    "ready file cannot be watched (out of memory)");
			continue;
		}
		if (!mps_watch_ready(d->mps_watch, name, why, sizeof(why)))
			log_warn("MPS control daemon for %s is not ready (%s): "
			    "its devices are withheld until it is", name, why);
		(void)fleet_withhold(d->fleet, name,
		    !mps_watch_ready(d->mps_watch, name, NULL, 0), why);
	}
}

/*
 * GPU Feature Discovery's labels (--output-file): the NFD feature file
 * rewritten when a label differs from what it holds; the file of |old|
 * (the configuration in force until now) removed when a reload turned
 * the labels off or moved them, so that NFD publishes no stale labels.
 * A failure is logged and serving goes on: labels are not worth a
 * node's GPUs.
 */
static void
publish_labels(const struct config *old, const struct config *cfg,
    const char *text)
{
	const char *was = old != cfg ? old->gfd_output_file : "";
	char err[4200];
	bool written;

	if (was[0] != '\0' && strcmp(was, cfg->gfd_output_file) != 0) {
		if (labels_file_remove(was, err, sizeof(err)) < 0)
			log_warn("Old node labels not removed: %s", err);
		else
			log_info("Node labels removed from %s", was);
	}
	if (text == NULL)
		return;
	if (labels_file_update(cfg->gfd_output_file, text, &written, err,
	    sizeof(err)) < 0)
		log_warn("Node labels not updated: %s", err);
	else if (written)
		log_info("Node labels written to %s", cfg->gfd_output_file);
}

/*
 * Discovers under |cfg| and |file| (and its strategy settings |st|)
 * and serves what it finds (apply_discovered); on success, the node's
 * labels follow. Returns as apply_discovered.
 */
static int
apply(struct daemon *d, const struct config *cfg,
    const struct cfgfile *file, const struct strategy_settings *st,
    bool at_start, struct fleet_change *chg)
{
	char *labels = NULL;
	int rc = apply_discovered(d, cfg, file, st, at_start, chg, &labels);

	if (rc == 0)
		publish_labels(&d->cfg, cfg, labels);
	gdp_free(labels);
	return rc;
}

/* ---- reloading ---- */

/* A setting that takes effect only when the plugin starts. */
static bool
restart_only(const struct daemon *d, const char *flag)
{
	static const char *const names[] = { "kubelet-socket", "seccomp",
		"config-file", "fail-on-init-error", "fail-on-no-gpus" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(flag, names[i]) == 0)
			return true;
	/* NVML is loaded from them once. */
	if (d->nvml != NULL && (!strcmp(flag, "driver-root") ||
	    !strcmp(flag, "driver-root-ctr-path")))
		return true;
	/* The gRPC servers' limits (docs/grpc.md). */
	return !strncmp(flag, "max-", 4) || strstr(flag, "-timeout") != NULL;
}

#define SETTING_VALUE_MAX ((size_t)CONFIG_LIST_MAX * CONFIG_ITEM_MAX)

/* The values of one configuration, by its table's order. */
struct values {
	size_t n;
	char value[CONFIG_MAX_SETTINGS][SETTING_VALUE_MAX];
};

static void
collect_value(const char *flag, const char *file_key, const char *value,
    const char *origin, void *arg)
{
	struct values *v = arg;

	if (v->n < CONFIG_MAX_SETTINGS)
		snprintf(v->value[v->n++], SETTING_VALUE_MAX, "%s", value);
}

struct change_log {
	const struct daemon *d;
	const struct values *old;
	size_t i, changed;
};

static void
log_one_change(const char *flag, const char *file_key, const char *value,
    const char *origin, void *arg)
{
	struct change_log *c = arg;
	const char *was = c->i < c->old->n ? c->old->value[c->i] : "";

	c->i++;
	if (strcmp(was, value) == 0)
		return;
	c->changed++;
	if (restart_only(c->d, flag))
		log_warn("Reload: --%s changed from \"%s\" to \"%s\" (%s): "
		    "this takes effect when the plugin restarts; until then "
		    "the old value stays in force", flag, was, value,
		    origin != NULL ? origin : "the default");
	else
		log_info("Reload: --%s: \"%s\" -> \"%s\" (%s)", flag, was,
		    value, origin != NULL ? origin : "the default");
}

/* Logs every setting that differs between |old| and |cfg|; returns how
 * many do. */
static size_t
log_changes(const struct daemon *d, const struct config *old,
    const struct config *cfg)
{
	struct values *v = gdp_calloc(1, sizeof(*v));
	struct change_log c = { d, v, 0, 0 };

	if (v == NULL)
		return 1;   /* unknown: not "nothing changed" */
	config_each(old, collect_value, v);
	config_each(cfg, log_one_change, &c);
	gdp_free(v);
	return c.changed;
}

static double
ms_since(int64_t t0_ns)
{
	return (double)(loop_now_ns() - t0_ns) / 1e6;
}

static void
log_reload_done(int64_t t0, const struct fleet_change *c, size_t settings)
{
	size_t changes = c->relisted + c->answers + c->started + c->stopped;

	if (changes + settings == 0) {
		log_info("Reload done in %.1f ms: nothing changed; %zu "
		    "resource(s) served as they were", ms_since(t0), c->kept);
		return;
	}
	log_info("Reload done in %.1f ms: %zu setting(s) changed; resources: "
	    "%zu with a new device list, %zu with new Allocate answers, %zu "
	    "started, %zu stopped, %zu as they were (nothing re-registered "
	    "but what started)", ms_since(t0), settings, c->relisted,
	    c->answers, c->started, c->stopped, c->kept);
}

/*
 * A reload: the configuration read again (load_config), then
 * discovery, and only what changed served anew (apply). A configuration
 * that cannot be read or used, or a discovery that fails, changes
 * nothing: the old configuration and everything served with it stay,
 * and the log says why. Never exits.
 */
static void
reload_config(struct daemon *d, const char *why)
{
	int64_t t0 = loop_now_ns();
	struct config cfg;
	struct strategy_settings st;
	struct cfgfile *file = NULL;
	struct fleet_change chg = { 0 };
	size_t settings;
	char err[2048];
	int rc;

	log_info("%s, reloading the configuration and discovering again.",
	    why);
	/* What is read now is what later changes are measured from. */
	config_watch_rebase(d->watch);
	rc = load_config(d->argc, d->argv, &cfg, &file, false, err,
	    sizeof(err));
	if (rc == 0 && strategy_settings(&cfg, &st, err, sizeof(err)) < 0)
		rc = -EINVAL;
	if (rc < 0) {
		log_error("Reload: %s", err);
		cfgfile_free(file);
		metrics_reload(false);
		log_error("Reload refused after %.1f ms: the new configuration "
		    "cannot be used (above); keeping the configuration in "
		    "force", ms_since(t0));
		return;
	}
	settings = log_changes(d, &d->cfg, &cfg);
	if (!d->nvml_ready && start_nvml(d, &cfg) < 0)
		rc = -EIO;
	else
		rc = apply(d, &cfg, file, &st, false, &chg);
	if (rc < 0) {
		cfgfile_free(file);
		metrics_reload(false);
		log_error("Reload refused after %.1f ms: %s (above); keeping "
		    "the configuration in force and serving what was served",
		    ms_since(t0), d->nvml_ready ?
		    "discovery or serving failed" : "NVML is not available");
		return;
	}
	cfgfile_free(d->file);
	d->cfg = cfg;
	d->file = file;
	d->st = st;
	d->st.cdi_disable_hooks = d->st.disable_hooks;  /* into itself */
	if (settings > 0)
		(void)show_config(d, false);
	metrics_reload(true);
	log_reload_done(t0, &chg, settings);
}

/* READY=1 with what is served, for `systemctl status`. */
static void
notify_ready(const struct daemon *d)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=Serving %zu resource%s; "
	    "registering with the kubelet whenever it is up",
	    fleet_size(d->fleet), fleet_size(d->fleet) == 1 ? "" : "s");
	notify_send(&d->notify, msg);
}

/* A reload, told to the service manager (it may refuse a stop meanwhile). */
static void
reload(struct daemon *d, const char *why)
{
	notify_send(&d->notify, "RELOADING=1\nSTATUS=Reloading");
	reload_config(d, why);
	notify_ready(d);
}

static void
on_stop(struct loop *loop, int signo, void *arg)
{
	struct daemon *d = arg;

	log_info("Received signal \"%s\", shutting down.", strsignal(signo));
	notify_send(&d->notify, "STOPPING=1\nSTATUS=Shutting down");
	loop_stop(loop);
}

/* A ping per half watchdog interval, from the loop itself: a loop that
 * stops turning misses them, and the service manager restarts it. */
static int64_t
on_watchdog(struct loop *loop, void *arg)
{
	struct daemon *d = arg;

	notify_send(&d->notify, "WATCHDOG=1");
	return d->notify.watchdog_ms;
}

/* After the start: READY=1, and the watchdog's pings when it asks. */
static int
start_notify(struct daemon *d)
{
	notify_ready(d);
	if (d->notify.watchdog_ms > 0 && loop_add_timer(d->loop,
	    d->notify.watchdog_ms, on_watchdog, d) == NULL) {
		log_error("Cannot arm the service manager's watchdog: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
on_reload(struct loop *loop, int signo, void *arg)
{
	reload(arg, "Received SIGHUP");
}

static void
on_config_changed(void *arg)
{
	struct daemon *d = arg;
	char why[4200];

	snprintf(why, sizeof(why), "inotify: %s changed", d->cfg.config_file);
	reload(d, why);
}

/* The link graph as nvidia-smi topo -m shows it, and its legend. */
static void
print_link_matrix(const struct inventory *inv)
{
	char cell[16];

	if (inv->n < 2)
		return;
	printf("\nLinks (the pair scores' graph):\n%-7s", "");
	for (size_t j = 0; j < inv->n; j++)
		printf("GPU%-4u", inv->gpus[j].index);
	printf("NUMA\n");
	for (size_t i = 0; i < inv->n; i++) {
		printf("GPU%-4u", inv->gpus[i].index);
		for (size_t j = 0; j < inv->n; j++)
			printf("%-7s", inventory_link_label(inv, i, j, cell,
			    sizeof(cell)));
		printf("%d\n", inv->gpus[i].numa_node);
	}
	printf("\n  X    = itself\n"
	    "  NV#  = # NVLinks, direct or through NVSwitches\n"
	    "  PIX  = one PCIe switch\n"
	    "  PXB  = several PCIe switches, no host bridge\n"
	    "  PHB  = a PCIe host bridge\n"
	    "  NODE = host bridges of one NUMA node\n"
	    "  SYS  = across NUMA nodes (the SMP interconnect)\n"
	    "  BRD  = one board; ? = unknown\n");
}

static void
cap_minor(int minor, char *buf, size_t len)
{
	if (minor >= 0)
		snprintf(buf, len, "%d", minor);
	else
		snprintf(buf, len, "?");
}

/* Each MIG-enabled GPU's MIG devices, by index i:j. */
static void
print_migs(const struct inventory *inv)
{
	bool any = false;

	for (size_t i = 0; i < inv->n; i++)
		any |= inv->gpus[i].mig_enabled;
	if (!any)
		return;
	printf("\nMIG devices (capability nodes /dev/nvidia-caps/"
	    "nvidia-cap<N>):\n%-6s %-16s %-41s %3s %3s %6s %6s\n", "MIG",
	    "PROFILE", "UUID", "GI", "CI", "GI CAP", "CI CAP");
	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];

		if (g->mig_enabled && g->n_migs == 0)
			printf("%-6u MIG enabled, no MIG devices\n", g->index);
		for (size_t k = 0; k < g->n_migs; k++) {
			const struct mig_device *m = &g->migs[k];
			char id[24], gc[16], cc[16];

			snprintf(id, sizeof(id), "%u:%u", g->index, m->index);
			cap_minor(m->gi_cap_minor, gc, sizeof(gc));
			cap_minor(m->ci_cap_minor, cc, sizeof(cc));
			printf("%-6s %-16s %-41s %3u %3u %6s %6s\n", id,
			    m->profile, m->uuid, m->gi, m->ci, gc, cc);
		}
	}
}

/* What would be advertised under the --mig-strategy; 0, or 1 when the
 * strategy refuses the layout. */
static int
print_resources(const struct daemon *d, const struct inventory *inv)
{
	struct resources_options o = {
		.resource_name = d->cfg.resource_name,
		.id_strategy = d->cfg.device_id_strategy,
		.mig_strategy = d->cfg.mig_strategy,
		.dev_root = d->cfg.dev_root,
	};
	struct resources *r = NULL;
	char err[512];

	note_mig_strategy(&d->cfg, inv);
	sharing_options(&d->cfg, d->file, &o);
	if (resources_build(inv, &o, &r, err, sizeof(err)) < 0) {
		log_error("Cannot build the resources: %s", err);
		return 1;
	}
	printf("\nResources that would be advertised (--mig-strategy=%s):\n",
	    mig_names[d->cfg.mig_strategy]);
	for (size_t i = 0; i < r->n; i++)
		printf("  %s: %zu (socket %s/%s)%s%s\n", r->res[i].name,
		    r->res[i].n, d->socket_dir, r->res[i].socket_name,
		    r->res[i].sharing == SHARE_NONE ? "" : ", replicas by ",
		    r->res[i].sharing == SHARE_MPS ? "MPS" :
		    r->res[i].sharing == SHARE_TIME_SLICING ? "time-slicing" :
		    "");
	if (r->n == 0)
		printf("  none\n");
	resources_free(r);
	return 0;
}

static int
list_command(struct daemon *d)
{
	struct inventory *inv = NULL;
	int rc;

	if (start_nvml(d, &d->cfg) < 0 || discover(d, &d->cfg, &inv) < 0)
		return 1;
	printf("NVML %s (%s), driver %s, CUDA %d.%d\n", nvml_path(d->nvml),
	    nvml_init_symbol(d->nvml), inv->driver_version,
	    inv->cuda_version / 1000,
	    inv->cuda_version % 1000 / 10);
	printf("%-4s %-41s %-24s %10s %4s %5s %-17s %5s %7s\n", "GPU", "UUID",
	    "NAME", "MEMORY", "CC", "NUMA", "PCI BUS ID", "MINOR", "NVLINKS");
	for (size_t i = 0; i < inv->n; i++) {
		const struct gpu *g = &inv->gpus[i];
		char mem[24] = "unknown", cc[24] = "?";

		if (g->memory_bytes > 0)
			snprintf(mem, sizeof(mem), "%llu MiB",
			    (unsigned long long)(g->memory_bytes >> 20));
		if (g->cc_major >= 0)
			snprintf(cc, sizeof(cc), "%d.%d", g->cc_major,
			    g->cc_minor);
		printf("%-4u %-41s %-24s %10s %4s %5d %-17s %5u %7u\n",
		    g->index, g->uuid, g->name, mem, cc, g->numa_node,
		    g->bus_id, g->minor, g->n_links);
	}
	print_migs(inv);
	print_link_matrix(inv);
	for (size_t i = 0; i < inv->n_skipped; i++)
		printf("not advertised: %s\n", inv->skipped[i]);
	for (size_t i = 0; i < inv->n_warnings; i++)
		printf("warning: %s\n", inv->warnings[i]);
	rc = print_resources(d, inv);
	inventory_free(inv);
	return rc;
}

/* ---- mps-control-daemon (src/mps/command.h) ---- */

/*
 * The plan from |cfg| and |file| on the GPUs discovered now: the
 * resource table built as the plugin builds it (what Allocate answers
 * does not matter here), then its MPS-shared resources.
 */
static int
plan_of(struct daemon *d, const struct config *cfg,
    const struct cfgfile *file, struct mps_plan **out)
{
	struct resources_options o = {
		.resource_name = cfg->resource_name,
		.id_strategy = cfg->device_id_strategy,
		.mig_strategy = cfg->mig_strategy,
		.dev_root = cfg->dev_root,
	};
	struct inventory *inv = NULL;
	struct resources *r = NULL;
	char err[2048];
	int rc;

	if ((!d->nvml_ready && start_nvml(d, cfg) < 0) ||
	    discover(d, cfg, &inv) < 0)
		return -EIO;
	sharing_options(cfg, file, &o);
	rc = resources_build(inv, &o, &r, err, sizeof(err));
	if (rc < 0)
		log_error("Cannot build the resources: %s", rc == -ENOMEM ?
		    "out of memory" : err);
	else if ((rc = mps_plan_build(r, inv, cfg->mps_root, out, err,
	    sizeof(err))) < 0)
		log_error("MPS: %s", err);
	resources_free(r);
	inventory_free(inv);
	return rc;
}

/* mps_plan_fn: the start's configuration, or on reload a new one (kept
 * when its plan can be built). */
static int
mps_plan(void *arg, bool reload, struct mps_plan **out)
{
	struct daemon *d = arg;
	struct cfgfile *file = NULL;
	struct config cfg;
	char err[2048];
	int rc;

	if (!reload)
		return plan_of(d, &d->cfg, d->file, out);
	rc = load_config(d->argc, d->argv, &cfg, &file, false, err,
	    sizeof(err));
	if (rc < 0)
		log_error("Reload: %s", err);
	else
		rc = plan_of(d, &cfg, file, out);
	if (rc < 0) {
		cfgfile_free(file);
		return rc;
	}
	cfgfile_free(d->file);
	d->cfg = cfg;
	d->file = file;
	return 0;
}

static void
socket_dir_of(const char *kubelet_socket, char *out, size_t len)
{
	const char *slash = strrchr(kubelet_socket, '/');

	if (kubelet_socket[0] == '\0' || slash == NULL)
		snprintf(out, len, "%s", DEFAULT_SOCKET_DIR);
	else if (slash == kubelet_socket)
		snprintf(out, len, "/");
	else
		snprintf(out, len, "%.*s", (int)(slash - kubelet_socket),
		    kubelet_socket);
}

/*
 * Least privilege (docs/security.md), in two steps: capabilities and
 * no_new_privs first, while this is the only thread (capabilities are
 * each thread's own); the seccomp filter once set-up is done, on every
 * thread, NVML's included.
 */
static int
drop_privileges(void)
{
	char note[256], err[256];

	if (sandbox_drop_privileges(note, sizeof(note), err,
	    sizeof(err)) < 0) {
		log_error("Cannot drop privileges: %s", err);
		return -1;
	}
	if (note[0] != '\0')
		log_warn("%s", note);
	return 0;
}

static int
install_filter(const char *mode)
{
	char err[256];
	int n = sandbox_install_filter(!strcmp(mode, "log") ?
	    SANDBOX_FILTER_LOG : !strcmp(mode, "off") ? SANDBOX_FILTER_OFF :
	    SANDBOX_FILTER_ENFORCE, err, sizeof(err));

	if (n < 0) {
		log_error("Cannot install the system-call filter: %s "
		    "(--seccomp=off runs without one)", err);
		return -1;
	}
	log_info("No capabilities, no_new_privs; system-call filter: %s "
	    "(%d calls named)", mode, n);
	return 0;
}

/*
 * With --config-file: a change of the file reloads as SIGHUP does
 * (config/watch.h). A watch that cannot be had is said, not fatal.
 */
static int
start_config_watch(struct daemon *d)
{
	char err[256];

	if (d->cfg.config_file[0] == '\0')
		return 0;
	d->watch = config_watch_new(d->loop, d->cfg.config_file,
	    on_config_changed, d, err, sizeof(err));
	if (d->watch == NULL)
		log_warn("Cannot watch --config-file %s for changes: %s; a "
		    "SIGHUP still reloads it", d->cfg.config_file, err);
	else
		log_info("Watching %s: a change reloads it, as SIGHUP does",
		    d->cfg.config_file);
	return 0;
}

/* ---- the metrics endpoint ---- */

/* gdp_devices and gdp_grpc_connections_open: what the loop holds. */
static void
collect_metrics(struct metrics_text *t, void *arg)
{
	const struct daemon *d = arg;

	metrics_text_family(t, "gdp_grpc_connections_open", "gauge",
	    "gRPC connections open on the plugin's sockets.");
	metrics_text_count(t, "gdp_grpc_connections_open", NULL, NULL,
	    fleet_connections(d->fleet));
	metrics_text_family(t, "gdp_devices", "gauge",
	    "Devices advertised, by resource and health.");
	for (size_t i = 0; d->res != NULL && i < d->res->n; i++) {
		const struct resource *r = &d->res->res[i];
		const char *good[] = { "resource", r->name, "health", "healthy",
			NULL };
		const char *bad[] = { "resource", r->name, "health",
			"unhealthy", NULL };
		uint64_t healthy = 0;

		for (size_t v = 0; v < r->n; v++)
			healthy += r->views[v].healthy;
		metrics_text_count(t, "gdp_devices", good, NULL, healthy);
		metrics_text_count(t, "gdp_devices", bad, NULL, r->n - healthy);
	}
}

static bool
metrics_ready(void *arg, char *why, size_t len)
{
	const struct daemon *d = arg;

	return fleet_ready(d->fleet, why, len);
}

static int
start_metrics(struct daemon *d)
{
	const struct metrics_source src = { collect_metrics, metrics_ready, d,
		GDP_VERSION, GDP_REVISION };
	char err[256];

	if (d->cfg.metrics_address[0] == '\0')
		return 0;
	d->metrics = metrics_server_start(d->loop, d->cfg.metrics_address,
	    &src, err, sizeof(err));
	if (d->metrics == NULL) {
		log_error("--metrics-address %s: %s", d->cfg.metrics_address,
		    err);
		return -1;
	}
	log_info("Serving metrics, /healthz and /readyz at %s",
	    d->cfg.metrics_address);
	return 0;
}

static int
serve(struct daemon *d)
{
	struct fleet_options fo = { d->socket_dir, d->cfg.kubelet_socket,
		d->server_opts, before_allocate, d };
	struct fleet_change chg;

	char err[512];

	if (notify_open(&d->notify, err, sizeof(err)) < 0)
		log_warn("Not telling the service manager our state: %s", err);
	if (drop_privileges() < 0)
		return 1;
	d->loop = loop_new();
	if (d->loop == NULL || loop_add_signal(d->loop, SIGTERM, on_stop, d) ||
	    loop_add_signal(d->loop, SIGINT, on_stop, d) ||
	    loop_add_signal(d->loop, SIGQUIT, on_stop, d) ||
	    loop_add_signal(d->loop, SIGHUP, on_reload, d)) {
		log_error("Cannot set up the event loop: %s", strerror(errno));
		return 1;
	}
	d->fleet = fleet_new(d->loop, &fo);
	if (d->fleet == NULL) {
		log_error("Cannot start: out of memory");
		return 1;
	}
	if (start_config_watch(d) < 0 || start_metrics(d) < 0)
		return 1;
	if (start_nvml(d, &d->cfg) < 0) {
		if (d->cfg.fail_on_init_error)
			return 1;
		log_warn("--fail-on-init-error=false: continuing without "
		    "GPUs. No devices found. Waiting indefinitely.");
	} else if (apply(d, &d->cfg, d->file, &d->st, true, &chg) < 0) {
		return 1;
	}
	if (install_filter(d->cfg.seccomp) < 0 || start_notify(d) < 0)
		return 1;
	if (loop_run(d->loop) < 0)
		return 1;
	return 0;
}

static void
cleanup(struct daemon *d)
{
	config_watch_free(d->watch);
	metrics_server_free(d->metrics);
	mps_watch_free(d->mps_watch);
	fleet_free(d->fleet);
	health_monitor_stop(d->health);
	resources_free(d->res);
	inventory_free(d->inv);
	/* A stopped health thread holds its own reference: NVML is shut
	 * down and unloaded by whichever of us lets go last. */
	nvml_close(d->nvml);
	loop_free(d->loop);
	cfgfile_free(d->file);
	notify_close(&d->notify);
}

static void
warn_setting(const char *msg, void *arg)
{
	(void)arg;
	log_warn("%s", msg);
}

/* The strategies in force, and each NVIDIA setting not applied yet. */
static void
log_settings(const struct config *cfg)
{
	static const char *const discovery[] = { "auto", "nvml", "tegra" };

	log_info("Using device discovery strategy: %s; MIG strategy: %s",
	    discovery[cfg->device_discovery_strategy],
	    mig_names[cfg->mig_strategy]);
	(void)config_warnings(cfg, warn_setting, NULL);
}

/* With GDP_FAULT_ALLOC (fault-injection builds): how many there were. */
static void
report_allocations(void)
{
	unsigned long attempts, failed;

	if (getenv("GDP_FAULT_ALLOC") != NULL &&
	    gdp_alloc_stats(&attempts, &failed))
		log_info("fault injection: %lu allocations, %lu failed",
		    attempts, failed);
}

static bool
check_only(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--check-config") == 0)
			return true;
	return false;
}

/* A message line on stderr, any control byte from the file as '?' (the
 * log escapes them itself). */
static void
print_line(const char *kind, const char *line)
{
	fprintf(stderr, "gpu-device-plugin: %s: ", kind);
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, stderr);
	fputc('\n', stderr);
}

/* The config file's warnings and errors, on stderr or in the log. */
static void
report_file(const struct cfgfile *cf, bool check)
{
	for (size_t i = 0; cf != NULL && i < cf->n_warnings; i++)
		if (check)
			print_line("warning", cf->warnings[i]);
		else
			log_warn("%s", cf->warnings[i]);
	for (size_t i = 0; cf != NULL && i < cf->n_errors; i++)
		if (check)
			print_line("error", cf->errors[i]);
		else
			log_error("%s", cf->errors[i]);
}

/*
 * "Re-read the configuration", at start and at every reload: the flags
 * (|argv|, kept from the start), the environment as it is now, and the
 * config file the flags name, parsed and put between the environment
 * and the defaults, then the checks across both. |cfg|'s strings point
 * into argv, the environment and |*file| (NULL without a file; the
 * caller frees it with cfgfile_free() once |cfg| is no longer used, on
 * failure too). The file's warnings and errors are reported (stderr
 * with |check|, else the log). Returns 0; -EINVAL or -ENOTSUP for a
 * flag or environment value (config_parse(): the message in |err|);
 * -EIO for a config file with errors (reported; |err| names the file);
 * -ENOMEM (in |err|).
 */
static int
load_config(int argc, char **argv, struct config *cfg,
    struct cfgfile **file, bool check, char *err, size_t errlen)
{
	struct config_layer layer = { cfgfile_lookup, NULL };
	char why[2048];
	int rc = config_parse(cfg, argc, argv, err, errlen);

	*file = NULL;
	if (rc < 0 || cfg->help || cfg->version || cfg->config_file[0] == '\0')
		return rc;
	rc = cfgfile_load(cfg->config_file, file);
	layer.arg = *file;
	/* The flags' rules judge the file's values even when the file has
	 * other errors, so that one run shows them all. */
	if (rc != -ENOMEM && config_parse_layered(cfg, argc, argv, &layer,
	    why, sizeof(why)) < 0)
		rc = cfgfile_error(*file, "%s", why) < 0 ? -ENOMEM : -EINVAL;
	if (rc == 0)
		rc = effective_check(cfg, *file);
	if (rc == -ENOMEM) {
		snprintf(err, errlen, "%s: out of memory", cfg->config_file);
		return -ENOMEM;
	}
	report_file(*file, check);
	if (*file == NULL || (*file)->n_errors == 0)
		return 0;
	snprintf(err, errlen, "--config-file %s: %zu error(s), above",
	    cfg->config_file, (*file)->n_errors);
	return -EIO;
}

/* --check-config's answer, or the start-up log's "Running with config:"
 * (in pieces when one log line cannot hold it). */
static int
show_config(const struct daemon *d, bool check)
{
	char *json = effective_json(&d->cfg, d->file, check);
	size_t len, piece = 1800;

	if (json == NULL) {
		fprintf(stderr, "gpu-device-plugin: out of memory\n");
		return -1;
	}
	if (check) {
		printf("%s\n", json);
	} else if ((len = strlen(json)) <= piece) {
		log_info("Running with config: %s", json);
	} else {
		for (size_t at = 0; at < len; at += piece)
			log_info("Running with config (part %zu of %zu): %.*s",
			    at / piece + 1, (len + piece - 1) / piece,
			    (int)piece, json + at);
	}
	gdp_free(json);
	return 0;
}

int
main(int argc, char **argv)
{
	struct daemon d = { .notify = { .fd = -1 } };
	char err[2048];
	bool check = check_only(argc, argv);
	int rc;

	metrics_process_start();
	if (gdp_alloc_init_env() < 0) {
		fprintf(stderr, "gpu-device-plugin: GDP_FAULT_ALLOC=%s: not N "
		    "or N+\n", getenv("GDP_FAULT_ALLOC"));
		return 2;
	}
	d.argc = argc;
	d.argv = argv;
	rc = load_config(argc, argv, &d.cfg, &d.file, check, err,
	    sizeof(err));
	if (rc == -EINVAL || rc == -ENOTSUP) {
		fprintf(stderr, "gpu-device-plugin: %s%s\n",
		    check ? "error: " : "", err);
		return check || rc == -ENOTSUP ? 1 : 2;
	}
	if (rc < 0) {
		if (rc == -ENOMEM)
			fprintf(stderr, "gpu-device-plugin: %s\n", err);
		cfgfile_free(d.file);
		report_allocations();
		return 1;
	}
	if (d.cfg.help) {
		config_usage(stdout);
		return 0;
	}
	if (d.cfg.version) {
		printf("gpu-device-plugin %s\n", GDP_VERSION);
		return 0;
	}
	if (check) {
		rc = show_config(&d, true);
		fprintf(stderr, "gpu-device-plugin: configuration %s\n",
		    rc == 0 ? "OK" : "not checked");
		cfgfile_free(d.file);
		report_allocations();
		return rc == 0 ? 0 : 1;
	}
	signal(SIGPIPE, SIG_IGN);
	server_options_of(&d.cfg, &d.server_opts);
	socket_dir_of(d.cfg.kubelet_socket, d.socket_dir,
	    sizeof(d.socket_dir));
	if (d.cfg.command == NULL &&
	    strategy_settings(&d.cfg, &d.st, err, sizeof(err)) < 0) {
		fprintf(stderr, "gpu-device-plugin: %s\n", err);
		cfgfile_free(d.file);
		return 2;
	}
	if (d.cfg.command != NULL &&
	    strcmp(d.cfg.command, "mps-control-daemon") == 0) {
		log_info("Starting gpu-device-plugin %s mps-control-daemon",
		    GDP_VERSION);
		rc = mps_control_run(mps_plan, &d);
	} else if (d.cfg.command != NULL) {
		(void)config_warnings(&d.cfg, warn_setting, NULL);
		rc = list_command(&d);
	} else {
		log_info("Starting gpu-device-plugin %s", GDP_VERSION);
		log_settings(&d.cfg);
		rc = show_config(&d, false) < 0 ? 1 : serve(&d);
	}
	cleanup(&d);
	report_allocations();
	return rc;
}
