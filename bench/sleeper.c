/*
 * sleeper.c: the idle-cost reference for bench/health-bench.py.
 *
 * Does nothing but wake every PERIOD_MS (argument 1, default 5000): what
 * an idle plugin does at best, with its health thread waking once per
 * probe. On a virtual machine each wake-up costs far more than the work
 * done in it, so the plugin's idle CPU is only meaningful beside this
 * process's, measured over the same seconds. Shares no code with the
 * plugin.
 */
#include <stdlib.h>
#include <time.h>

int
main(int argc, char **argv)
{
	long ms = argc > 1 ? strtol(argv[1], NULL, 10) : 5000;
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	for (;;)
		nanosleep(&ts, NULL);
}
