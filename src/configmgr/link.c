/*
 * link.c: choose the config, swap the link, signal the plugin (link.h).
 *
 * The pod shares one PID namespace (shareProcessNamespace), so the plugin
 * is found as NVIDIA's config-manager finds it: by the first word of
 * /proc/PID/cmdline. Nothing here keeps state between calls: the link on
 * disk is the state, so a restarted sidecar picks up where it was.
 */
#include "link.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
config_path(const struct link_opts *o, const char *name, char *target,
    char *err)
{
	struct stat st;

	if (strchr(name, '/') != NULL || strcmp(name, "..") == 0 ||
	    strcmp(name, ".") == 0) {
		snprintf(err, LINK_ERR_LEN, "specified config %s is not a"
		    " file name", name);
		return -EINVAL;
	}
	if (snprintf(target, PATH_MAX, "%s/%s", o->srcdir, name) >= PATH_MAX) {
		snprintf(err, LINK_ERR_LEN, "specified config %s: path too"
		    " long", name);
		return -ENAMETOOLONG;
	}
	if (stat(target, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, LINK_ERR_LEN, "specified config %s does not"
		    " exist (in %s)", name, o->srcdir);
		return -ENOENT;
	}
	return 0;
}

/* The configs in srcdir: names not starting with '.' (a ConfigMap mount
 * keeps its own ..data entries). *|one| gets the last one seen. */
static int
count_configs(const struct link_opts *o, char *one, size_t size, char *err)
{
	DIR *d = opendir(o->srcdir);
	struct dirent *e;
	int n = 0;

	if (d == NULL) {
		n = errno;
		snprintf(err, LINK_ERR_LEN, "CONFIG_FILE_SRCDIR %s: %s",
		    o->srcdir, strerror(n));
		return -n;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(one, size, "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* One strategy: 1 when it picked |target|, 0 when it does not apply. */
static int
try_strategy(const struct link_opts *o, const char *s, size_t len,
    char *target, char *err)
{
	char one[NAME_MAX + 1];
	int n;

	if (len == 5 && strncmp(s, "named", 5) == 0)
		return config_path(o, "default", target, err) == 0;
	if (len == 6 && strncmp(s, "single", 6) == 0) {
		n = count_configs(o, one, sizeof(one), err);
		if (n < 0)
			return n;
		return n == 1 && config_path(o, one, target, err) == 0;
	}
	if (len == 5 && strncmp(s, "empty", 5) == 0) {
		snprintf(target, PATH_MAX, "/dev/null");
		return 1;
	}
	snprintf(err, LINK_ERR_LEN, "FALLBACK_STRATEGIES: unknown strategy"
	    " '%.*s' (named, single or empty)", (int)len, s);
	return -EINVAL;
}

int
link_resolve(const struct link_opts *o, const char *label, char *target,
    char *err)
{
	const char *s, *end;
	int rc;

	if (label != NULL && label[0] != '\0')
		return config_path(o, label, target, err);
	if (o->default_config[0] != '\0')
		return config_path(o, o->default_config, target, err);
	for (s = o->fallbacks; *s != '\0'; s = *end != '\0' ? end + 1 : end) {
		end = s + strcspn(s, ",");
		while (s < end && isspace((unsigned char)*s))
			s++;
		if (s == end)
			continue;
		rc = try_strategy(o, s, (size_t)(end - s), target, err);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	snprintf(err, LINK_ERR_LEN, "the node has no config label, there is"
	    " no DEFAULT_CONFIG, and no FALLBACK_STRATEGIES ('%s') applies",
	    o->fallbacks);
	return -ENOENT;
}

int
link_update(const struct link_opts *o, const char *target, bool *changed,
    char *err)
{
	char now[PATH_MAX], tmp[PATH_MAX];
	ssize_t n;

	n = readlink(o->dst, now, sizeof(now) - 1);
	if (n >= 0) {
		now[n] = '\0';
		if (strcmp(now, target) == 0) {
			*changed = false;
			return 0;
		}
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", o->dst,
	    (long)getpid()) >= (int)sizeof(tmp)) {
		snprintf(err, LINK_ERR_LEN, "CONFIG_FILE_DST: path too long");
		return -ENAMETOOLONG;
	}
	unlink(tmp);
	if (symlink(target, tmp) != 0 || rename(tmp, o->dst) != 0) {
		int e = errno;

		unlink(tmp);
		snprintf(err, LINK_ERR_LEN, "linking %s to %s: %s", o->dst,
		    target, strerror(e));
		return -e;
	}
	*changed = true;
	return 0;
}

/* Whether process |pid|'s argv[0] has the base name |name| or |alias|. */
static bool
argv0_is(const char *pid, const char *name, const char *alias)
{
	char path[64], cmd[PATH_MAX];
	const char *base;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmd[n] = '\0';
	base = strrchr(cmd, '/');
	base = base != NULL ? base + 1 : cmd;
	return strcmp(base, name) == 0 ||
	    (alias != NULL && strcmp(base, alias) == 0);
}

int
link_signal(const char *name, int sig, int *count, char *err)
{
	const char *alias = strcmp(name, "nvidia-device-plugin") == 0 ?
	    "gpu-device-plugin" : NULL;
	DIR *d = opendir("/proc");
	char self[32];
	struct dirent *e;

	*count = 0;
	if (d == NULL) {
		*count = errno;
		snprintf(err, LINK_ERR_LEN, "/proc: %s", strerror(*count));
		return -*count;
	}
	snprintf(self, sizeof(self), "%ld", (long)getpid());
	while ((e = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)e->d_name[0]) ||
		    strcmp(e->d_name, self) == 0 ||
		    !argv0_is(e->d_name, name, alias))
			continue;
		if (kill((pid_t)atol(e->d_name), sig) == 0)
			(*count)++;
	}
	closedir(d);
	if (*count == 0) {
		snprintf(err, LINK_ERR_LEN, "PROCESS_TO_SIGNAL: no process"
		    " named %s%s%s to send signal %d to", name,
		    alias != NULL ? " or " : "", alias != NULL ? alias : "",
		    sig);
		return -ESRCH;
	}
	return 0;
}
