/*
 * process.c: process_* series (see process.h). Resident and virtual
 * memory from /proc/self/statm, CPU from getrusage(2), descriptors by
 * listing /proc/self/fd and their limit from getrlimit(2): each is one
 * or two system calls, at scrape time only.
 */
#include "metrics/process.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "metrics/text.h"

static double start_time;

void
metrics_process_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident and virtual size in bytes, from statm's pages. */
static int
memory_bytes(double *rss_out, double *vsize_out)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long size, rss;
	double page = (double)sysconf(_SC_PAGESIZE);
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%lu %lu", &size, &rss);
	fclose(f);
	if (n != 2)
		return -1;
	*rss_out = (double)rss * page;
	*vsize_out = (double)size * page;
	return 0;
}

static int
open_fds(double *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	*out = (double)(n - 1);    /* less the directory's own descriptor */
	return 0;
}

static void
one(struct metrics_text *t, const char *name, const char *type,
    const char *help, double v)
{
	metrics_text_family(t, name, type, help);
	metrics_text_sample(t, name, NULL, NULL, v);
}

void
metrics_process_write(struct metrics_text *t)
{
	struct rusage ru;
	struct rlimit rl;
	double v, vsize;

	if (memory_bytes(&v, &vsize) == 0) {
		one(t, "process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.", v);
		one(t, "process_virtual_memory_bytes", "gauge",
		    "Virtual memory size in bytes.", vsize);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		one(t, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.",
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	if (open_fds(&v) == 0)
		one(t, "process_open_fds", "gauge",
		    "Number of open file descriptors.", v);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		one(t, "process_max_fds", "gauge",
		    "Maximum number of open file descriptors.",
		    (double)rl.rlim_cur);
	one(t, "process_start_time_seconds", "gauge",
	    "Start time of the process since unix epoch in seconds.",
	    start_time);
}
