/*
 * test_mpsready.c: the plugin's MPS readiness watch (plugin/mpsready.h)
 * against ready files made as the control daemon makes them
 * (mps/ready.h), by child processes that hold them, drop them, or die
 * holding them; the directory removed under the watch; a stale file
 * found at start; two resources apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop/loop.h"
#include "mps/ready.h"
#include "plugin/mpsready.h"

#define GPU "nvidia.com/gpu"
#define SHARED "nvidia.com/gpu.shared"

struct fixture {
	char root[64];
	char dir[128];
	struct loop *loop;
	struct mps_watch *w;
	int changes;
	bool last;
	char last_resource[64];
	char last_why[MPS_WATCH_WHY];
};

static void
changed(const char *resource, bool ready, const char *why, void *arg)
{
	struct fixture *f = arg;

	f->changes++;
	f->last = ready;
	snprintf(f->last_resource, sizeof(f->last_resource), "%s", resource);
	snprintf(f->last_why, sizeof(f->last_why), "%s", why);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/gdp-mpsready-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->dir, sizeof(f->dir), "%s/%s", f->root, GPU);
	f->loop = loop_new();
	assert_non_null(f->loop);
	f->w = mps_watch_new(f->loop, f->root, changed, f);
	assert_non_null(f->w);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	mps_watch_free(f->w);
	loop_free(f->loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Runs the loop until |f| has seen |changes| changes (or 10 s). */
static void
pump(struct fixture *f, int changes)
{
	for (int i = 0; i < 100 && f->changes < changes; i++)
		assert_true(loop_run_once(f->loop, 100) >= 0);
	assert_int_equal(f->changes, changes);
}

/*
 * A child that writes |dir|'s ready file and holds it, then on a byte
 * from the returned pipe's write end removes it and exits.
 */
static pid_t
holder(const char *dir, int *cmd)
{
	int p[2], ok[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(ok), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256];
		int fd;

		close(p[1]);
		close(ok[0]);
		fd = mps_ready_write(dir, "pid test\n", err, sizeof(err));

		(void)!write(ok[1], fd >= 0 ? "y" : "n", 1);
		if (read(p[0], &c, 1) == 1)
			mps_ready_remove(dir, fd);
		_exit(0);
	}
	close(p[0]);
	close(ok[1]);
	assert_int_equal(read(ok[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	close(ok[0]);
	*cmd = p[1];
	return pid;
}

static void
missing_is_not_ready(void **state)
{
	struct fixture *f = *state;
	char why[MPS_WATCH_WHY];
	struct stat st;

	assert_int_equal(mps_watch_add(f->w, GPU), 0);
	assert_false(mps_watch_ready(f->w, GPU, why, sizeof(why)));
	assert_non_null(strstr(why, ".ready: missing"));
	/* The directory is made, so that it can be watched. */
	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(mps_watch_add(f->w, GPU), -EEXIST);
	assert_false(mps_watch_ready(f->w, "nvidia.com/other", why,
	    sizeof(why)));
}

static void
written_then_removed(void **state)
{
	struct fixture *f = *state;
	int cmd, status;
	pid_t pid;

	assert_int_equal(mps_watch_add(f->w, GPU), 0);
	pid = holder(f->dir, &cmd);
	pump(f, 1);
	assert_true(f->last);
	assert_string_equal(f->last_resource, GPU);
	assert_true(mps_watch_ready(f->w, GPU, NULL, 0));
	assert_int_equal(write(cmd, "x", 1), 1);
	pump(f, 2);
	assert_false(f->last);
	assert_non_null(strstr(f->last_why, "missing"));
	close(cmd);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void
writer_killed(void **state)
{
	struct fixture *f = *state;
	int cmd, status;
	pid_t pid;

	assert_int_equal(mps_watch_add(f->w, GPU), 0);
	pid = holder(f->dir, &cmd);
	pump(f, 1);
	assert_true(f->last);
	/* SIGKILL: nothing removes the file, but the lock goes. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pump(f, 2);
	assert_false(f->last);
	assert_non_null(strstr(f->last_why, "left by an MPS control daemon "
	    "that is gone"));
	close(cmd);
}

static void
stale_file_at_start(void **state)
{
	struct fixture *f = *state;
	char path[256], why[MPS_WATCH_WHY];
	int fd;

	snprintf(path, sizeof(path), "mkdir -p %s", f->dir);
	assert_int_equal(system(path), 0);
	snprintf(path, sizeof(path), "%s/.ready", f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(mps_watch_add(f->w, GPU), 0);
	assert_false(mps_watch_ready(f->w, GPU, why, sizeof(why)));
	assert_non_null(strstr(why, "gone"));
}

static void
directory_removed_and_back(void **state)
{
	struct fixture *f = *state;
	char cmd[256];
	int hold, status;
	pid_t pid;

	assert_int_equal(mps_watch_add(f->w, GPU), 0);
	pid = holder(f->dir, &hold);
	pump(f, 1);
	/* The holder keeps its descriptor; the directory goes. */
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	pump(f, 2);
	assert_false(f->last);
	close(hold);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	/* Watched again (the directory made again) within a second or so;
	   a new holder is then seen. */
	for (int i = 0; i < 100 && access(f->dir, F_OK) != 0; i++)
		assert_true(loop_run_once(f->loop, 100) >= 0);
	assert_int_equal(access(f->dir, F_OK), 0);
	for (int i = 0; i < 5; i++)
		assert_true(loop_run_once(f->loop, 10) >= 0);
	pid = holder(f->dir, &hold);
	pump(f, 3);
	assert_true(f->last);
	close(hold);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void
resources_apart(void **state)
{
	struct fixture *f = *state;
	char dir[192];
	int hold, status;
	pid_t pid;

	assert_int_equal(mps_watch_add(f->w, GPU), 0);
	assert_int_equal(mps_watch_add(f->w, SHARED), 0);
	snprintf(dir, sizeof(dir), "%s/%s", f->root, SHARED);
	pid = holder(dir, &hold);
	pump(f, 1);
	assert_string_equal(f->last_resource, SHARED);
	assert_true(mps_watch_ready(f->w, SHARED, NULL, 0));
	assert_false(mps_watch_ready(f->w, GPU, NULL, 0));
	close(hold);            /* EOF: the holder exits, the file stays */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	pump(f, 2);
	assert_false(mps_watch_ready(f->w, SHARED, NULL, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(missing_is_not_ready, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(written_then_removed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(writer_killed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(stale_file_at_start, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(directory_removed_and_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(resources_apart, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
