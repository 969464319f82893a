/*
 * run.c: a child process with a time limit (see run.h).
 *
 * The environment is built before fork() (so the child only calls
 * async-signal-safe functions before execvpe, and resets the signal
 * mask), the input goes through a
 * pipe that the child's stdin reads (the input is a line, far below a
 * pipe's capacity, so writing it cannot block), and the parent waits
 * with WNOHANG in short sleeps up to the limit, then kills.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

extern char **environ;

#define EXEC_FAILED 127
#define POLL_MS 5

static size_t
count(const char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* Whether |var| ("NAME=...") names a variable of |env|. */
static int
replaced(const char *var, const char *const env[])
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		const char *eq = strchr(env[i], '=');
		size_t n = eq != NULL ? (size_t)(eq - env[i]) : strlen(env[i]);

		if (strncmp(var, env[i], n) == 0 && var[n] == '=')
			return 1;
	}
	return 0;
}

/* environ less what |env| replaces, plus |env|; NULL when out of memory. */
static char **
child_env(const char *const env[])
{
	size_t n = count((const char *const *)environ), k = 0;
	char **out = gdp_calloc(n + count(env) + 1, sizeof(*out));

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!replaced(environ[i], env))
			out[k++] = environ[i];
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		out[k++] = (char *)env[i];
	return out;
}

/*
 * In the child: stdin from |in|, stdout to /dev/null, then exec. The
 * signal mask and ignored signals survive exec: the loop's signalfd
 * blocks SIGTERM and SIGHUP and SIGPIPE is ignored, and an MPS daemon
 * started so could not be stopped by a signal. Both are reset first.
 */
static void
exec_child(char *const argv[], char **envp, int in)
{
	int null = open("/dev/null", O_WRONLY);
	sigset_t none;

	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_DFL);

	if (dup2(in, STDIN_FILENO) < 0 || null < 0 ||
	    dup2(null, STDOUT_FILENO) < 0)
		_exit(EXEC_FAILED);
	execvpe(argv[0], argv, envp);
	_exit(EXEC_FAILED);
}

static int
wait_child(pid_t pid, int timeout_ms, int *status)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	for (int waited = 0;; waited += POLL_MS) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (waited >= timeout_ms) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, status, 0);
			return -ETIMEDOUT;
		}
		(void)nanosleep(&ts, NULL);
	}
}

static int
judge(char *const argv[], int rc, int status, int timeout_ms, char *err,
    size_t errlen)
{
	if (rc == -ETIMEDOUT) {
		snprintf(err, errlen, "%s: no answer in %d ms (killed)",
		    argv[0], timeout_ms);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", argv[0], strerror(-rc));
		return rc;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXEC_FAILED) {
		snprintf(err, errlen, "%s: cannot be run (not found or not "
		    "executable; exit status 127)", argv[0]);
		return -ENOENT;
	}
	if (WIFEXITED(status))
		snprintf(err, errlen, "%s: exit status %d", argv[0],
		    WEXITSTATUS(status));
	else
		snprintf(err, errlen, "%s: killed by signal %d", argv[0],
		    WTERMSIG(status));
	return -EIO;
}

int
mps_run(char *const argv[], const char *const env[], const char *input,
    int timeout_ms, char *err, size_t errlen)
{
	char **envp = child_env(env);
	int p[2], status = 0, rc;
	pid_t pid;

	if (envp == NULL) {
		snprintf(err, errlen, "%s: out of memory", argv[0]);
		return -ENOMEM;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		rc = -errno;
		gdp_free(envp);
		return judge(argv, rc, 0, timeout_ms, err, errlen);
	}
	pid = fork();
	if (pid == 0)
		exec_child(argv, envp, p[0]);
	rc = pid < 0 ? -errno : 0;
	(void)close(p[0]);
	/* A child that does not read its input says more by its status. */
	if (rc == 0 && input != NULL)
		(void)!write(p[1], input, strlen(input));
	(void)close(p[1]);
	gdp_free(envp);
	if (rc == 0)
		rc = wait_child(pid, timeout_ms, &status);
	return judge(argv, rc, status, timeout_ms, err, errlen);
}
