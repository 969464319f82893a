/*
 * fake-mps-control.c: a stand-in for nvidia-cuda-mps-control and
 * nvidia-smi in the mps suite, recording what it is asked to do.
 *
 * Every call appends one line per thing it does to $FAKE_MPS_RECORD
 * (one write(2) per line with O_APPEND, so the calls of several daemons
 * interleave whole lines):
 *   nvidia-smi -i UUID -c MODE     "smi UUID MODE"
 *   nvidia-cuda-mps-control -d     "start PIPE_DIR LOG_DIR"
 *   commands on stdin              "cmd PIPE_DIR COMMAND"
 * The "daemon" is a real background process (so that it can die); its
 * pid is in PIPE_DIR/fake-mps.pid, and it is alive while that file is
 * there and the pid answers kill(0). Commands need a live daemon, as the
 * real tool does (else exit 1, "Cannot find MPS control daemon
 * process"); "quit" ends it; "die" kills it with SIGKILL and leaves the
 * pid file's removal as the only trace (a crash, for restart tests).
 * $FAKE_MPS_FAIL_STARTS names a file holding a number: while it is above
 * 0, each -d decrements it and fails (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends "|what| |a| |b|\n" to the record. */
static void
record(const char *what, const char *a, const char *b)
{
	const char *path = getenv("FAKE_MPS_RECORD");
	char line[4096];
	int fd, n;

	if (path == NULL)
		return;
	n = snprintf(line, sizeof(line), "%s %s %s\n", what, a, b);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0 || n < 0)
		return;
	(void)!write(fd, line, (size_t)n);
	(void)close(fd);
}

static const char *
env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v != NULL ? v : def;
}

static void
pid_path(char *out, size_t len)
{
	snprintf(out, len, "%s/fake-mps.pid",
	    env_or("CUDA_MPS_PIPE_DIRECTORY", "/tmp/nvidia-mps"));
}

/* The daemon's pid, or 0 when none lives. */
static pid_t
daemon_pid(void)
{
	char path[4200];
	FILE *f;
	long pid = 0;

	pid_path(path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid > 0 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

static int
fail_start(void)
{
	const char *path = getenv("FAKE_MPS_FAIL_STARTS");
	FILE *f;
	int n = 0;

	if (path == NULL || (f = fopen(path, "r+")) == NULL)
		return 0;
	if (fscanf(f, "%d", &n) == 1 && n > 0) {
		rewind(f);
		fprintf(f, "%d\n", n - 1);
	}
	fclose(f);
	return n > 0;
}

static int
start(void)
{
	const char *pipe_dir = env_or("CUDA_MPS_PIPE_DIRECTORY",
	    "/tmp/nvidia-mps");
	char path[4200];
	FILE *f;
	pid_t pid;

	record("start", pipe_dir,
	    env_or("CUDA_MPS_LOG_DIRECTORY", "/var/log/nvidia-mps"));
	if (fail_start()) {
		fprintf(stderr, "fake-mps-control: start fails (as told)\n");
		return 1;
	}
	if (daemon_pid() != 0) {
		fprintf(stderr, "An instance of this daemon is already "
		    "running\n");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		(void)setsid();
		(void)dup2(null, 0);
		(void)dup2(null, 1);
		(void)dup2(null, 2);
		for (;;)
			pause();
	}
	pid_path(path, sizeof(path));
	if (pid < 0 || (f = fopen(path, "w")) == NULL)
		return 1;
	fprintf(f, "%ld\n", (long)pid);
	fclose(f);
	return 0;
}

static int
command(const char *line)
{
	const char *pipe_dir = env_or("CUDA_MPS_PIPE_DIRECTORY",
	    "/tmp/nvidia-mps");
	pid_t pid = daemon_pid();
	char path[4200];

	if (pid == 0) {
		fprintf(stderr, "Cannot find MPS control daemon process\n");
		return 1;
	}
	record("cmd", pipe_dir, line);
	pid_path(path, sizeof(path));
	if (strcmp(line, "quit") == 0 || strcmp(line, "die") == 0) {
		(void)unlink(path);
		(void)kill(pid, strcmp(line, "quit") == 0 ? SIGTERM : SIGKILL);
	} else if (strcmp(line, "get_default_active_thread_percentage") == 0) {
		printf("100.0\n");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char line[1024];
	int rc = 0;

	if (argc == 5 && strcmp(argv[1], "-i") == 0 &&
	    strcmp(argv[3], "-c") == 0) {
		record("smi", argv[2], argv[4]);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "-d") == 0)
		return start();
	if (argc != 1) {
		fprintf(stderr, "fake-mps-control: unexpected arguments\n");
		return 2;
	}
	while (rc == 0 && fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			rc = command(line);
	}
	return rc;
}
