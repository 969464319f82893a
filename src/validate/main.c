/* main.c: gpu-validate, the workload of the validation Job. It reports
 * the GPUs the container was given (the lines TensorFlow logs), checks
 * that they are exactly the ones NVIDIA_VISIBLE_DEVICES names, then trains
 * TensorFlow's mnist_with_summaries network and logs like that script
 * ("Accuracy at step N: x", "Adding run metadata for N"), so the Job's log
 * reads like the article's. Flags keep TF's names (--max_steps,
 * --learning_rate, --dropout, --data_dir, also spelled --data-dir). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate/cuda.h"
#include "validate/mnist.h"
#include "validate/net.h"
#include "validate/net_gpu.h"
#include "validate/rng.h"

#ifndef GDP_MNIST_DIR
#define GDP_MNIST_DIR "/opt/gdp-tools/mnist"
#endif

enum device_choice { DEVICE_AUTO, DEVICE_CPU, DEVICE_GPU };

struct options {
	long max_steps;
	float learning_rate, dropout;
	const char *data_dir;
	enum device_choice device;
	unsigned long long seed;
};

static const char usage[] =
    "usage: gpu-validate [--max_steps N] [--learning_rate F] [--dropout F]\n"
    "                    [--data_dir DIR] [--device auto|cpu|gpu] [--seed N]\n"
    "  --max_steps      steps, as TF's script counts them (default 1000)\n"
    "  --learning_rate  Adam's learning rate (default 0.001)\n"
    "  --dropout        keep probability of the hidden units (default 0.9)\n"
    "  --data_dir       the four MNIST idx files (default " GDP_MNIST_DIR ")\n"
    "  --device         auto: the GPU when CUDA has one, else the CPU\n"
    "  --seed           seeds initialisation, batches and dropout (default 1)\n";

static int parse_number(const char *flag, const char *s, double lo, double hi,
    double *out)
{
	char *end = NULL;
	errno = 0;
	double v = s == NULL ? 0.0 : strtod(s, &end);
	if (s == NULL || end == s || *end != '\0' || errno != 0 || v < lo ||
	    v > hi) {
		fprintf(stderr, "gpu-validate: %s wants a number from %g to %g, "
		    "got \"%s\"\n", flag, lo, hi, s == NULL ? "" : s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_device(const char *s, enum device_choice *d)
{
	if (s != NULL && strcmp(s, "auto") == 0)
		*d = DEVICE_AUTO;
	else if (s != NULL && strcmp(s, "cpu") == 0)
		*d = DEVICE_CPU;
	else if (s != NULL && strcmp(s, "gpu") == 0)
		*d = DEVICE_GPU;
	else {
		fprintf(stderr, "gpu-validate: --device wants auto, cpu or gpu, "
		    "got \"%s\"\n", s == NULL ? "" : s);
		return -1;
	}
	return 0;
}

/* Accepts "--flag value" and "--flag=value"; returns the value or NULL */
static const char *flag_value(int argc, char **argv, int *i, const char *name,
    int *matched)
{
	size_t n = strlen(name);
	*matched = 0;
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=') {
		*matched = 1;
		return argv[*i] + n + 1;
	}
	if (argv[*i][n] != '\0')
		return NULL;
	*matched = 1;
	return *i + 1 < argc ? argv[++*i] : NULL;
}

static int parse_one(int argc, char **argv, int *i, struct options *o)
{
	int m;
	double v;
	const char *s;
	if ((s = flag_value(argc, argv, i, "--max_steps", &m)), m) {
		if (parse_number("--max_steps", s, 0, 1e7, &v) != 0)
			return -1;
		o->max_steps = (long)v;
	} else if ((s = flag_value(argc, argv, i, "--learning_rate", &m)), m) {
		if (parse_number("--learning_rate", s, 1e-9, 1, &v) != 0)
			return -1;
		o->learning_rate = (float)v;
	} else if ((s = flag_value(argc, argv, i, "--dropout", &m)), m) {
		if (parse_number("--dropout", s, 0.01, 1, &v) != 0)
			return -1;
		o->dropout = (float)v;
	} else if ((s = flag_value(argc, argv, i, "--seed", &m)), m) {
		if (parse_number("--seed", s, 0, 1e15, &v) != 0)
			return -1;
		o->seed = (unsigned long long)v;
	} else if ((s = flag_value(argc, argv, i, "--data_dir", &m)), m ||
	    ((s = flag_value(argc, argv, i, "--data-dir", &m)), m)) {
		if (s == NULL || *s == '\0') {
			fprintf(stderr, "gpu-validate: --data_dir wants a "
			    "directory\n");
			return -1;
		}
		o->data_dir = s;
	} else if ((s = flag_value(argc, argv, i, "--device", &m)), m) {
		return parse_device(s, &o->device);
	} else {
		fprintf(stderr, "gpu-validate: unknown argument \"%s\"\n%s",
		    argv[*i], usage);
		return -1;
	}
	return 0;
}

static void print_device(int i, const struct cuda_device *d)
{
	printf("Found device %d with properties:\n"
	    "name: %s major: %d minor: %d memoryClockRate(GHz): %.4g\n"
	    "pciBusID: %s\n"
	    "totalMemory: %.2fGiB freeMemory: %.2fGiB\n"
	    "uuid: %s\n", i, d->name, d->major, d->minor,
	    d->mem_clock_khz / 1e6, d->pci_bus,
	    (double)d->total_mem / (1 << 30), (double)d->free_mem / (1 << 30),
	    d->uuid);
}

/* Probes CUDA and checks the allocation. Returns 1 to train on the GPU,
 * 0 for the CPU, -1 to stop (the message is printed). */
static int choose_device(enum device_choice want)
{
	if (want == DEVICE_CPU) {
		printf("Device: cpu (--device cpu)\n");
		return 0;
	}
	static struct cuda_probe p;
	char err[512], note[256];
	enum cuda_status st = cuda_probe(&p, err, sizeof(err));
	if (st == CUDA_FAILED || (st != CUDA_OK && want == DEVICE_GPU)) {
		fprintf(stderr, "gpu-validate: %s\n", err);
		return -1;
	}
	if (st != CUDA_OK) {
		printf("%s: training on the CPU\n", err);
		return 0;
	}
	for (int i = 0; i < p.ndevices; i++)
		print_device(i, &p.dev[i]);
	int rc = cuda_check_allocation(&p, getenv("NVIDIA_VISIBLE_DEVICES"),
	    err, sizeof(err), note, sizeof(note));
	if (rc < 0) {
		fprintf(stderr, "gpu-validate: %s\n", err);
		return -1;
	}
	printf("%s\n", note);
	int nk = cuda_load_kernels(err, sizeof(err));
	if (nk < 0) {
		fprintf(stderr, "gpu-validate: %s\n", err);
		return -1;
	}
	printf("GPU kernels: %d loaded from the embedded PTX\n", nk);
	printf("Device: gpu 0 (%s)\n", p.dev[0].name);
	return 1;
}

/* Copies batch b (of a per-epoch shuffled order) into x and y */
static void next_batch(const struct mnist_set *s, uint32_t *order,
    size_t *cursor, struct rng *r, float *x, uint8_t *y)
{
	for (int i = 0; i < NET_BATCH; i++) {
		if (*cursor == 0)
			for (size_t k = s->n - 1; k > 0; k--) {
				size_t j = rng_below(r, (uint32_t)(k + 1));
				uint32_t t = order[k];
				order[k] = order[j];
				order[j] = t;
			}
		size_t at = order[*cursor];
		memcpy(x + (size_t)i * MNIST_PIXELS, s->images + at * MNIST_PIXELS,
		    MNIST_PIXELS * sizeof(float));
		y[i] = s->labels[at];
		*cursor = (*cursor + 1) % s->n;
	}
}

/* The network on the chosen device */
struct trainer {
	int gpu;
	struct net cpu;
	struct net_gpu g;
};

static int trainer_init(struct trainer *t, int gpu, const struct options *o,
    struct rng *r, const struct mnist *m, char *err, size_t errlen)
{
	t->gpu = gpu;
	if (gpu)
		return net_gpu_init(&t->g, r, o->learning_rate, o->dropout,
		    &m->test, err, errlen);
	if (net_init(&t->cpu, r, o->learning_rate, o->dropout) == 0)
		return 0;
	snprintf(err, errlen, "out of memory");
	return -1;
}

static void trainer_free(struct trainer *t)
{
	if (t->gpu)
		net_gpu_free(&t->g);
	else
		net_free(&t->cpu);
}

static int trainer_accuracy(struct trainer *t, const struct mnist_set *test,
    float *acc, char *err, size_t errlen)
{
	if (t->gpu)
		return net_gpu_accuracy(&t->g, acc, err, errlen);
	*acc = net_accuracy(&t->cpu, test);
	return 0;
}

static int trainer_step(struct trainer *t, const float *x, const uint8_t *y,
    struct rng *r, char *err, size_t errlen)
{
	if (t->gpu)
		return net_gpu_train_step(&t->g, x, y, r, err, errlen);
	net_train_step(&t->cpu, x, y, r);
	return 0;
}

/* The state of the loop over steps */
struct loop {
	struct trainer *t;
	const struct mnist *m;
	struct rng *r;
	float *x;
	uint32_t *order;
	size_t cursor;
};

/* TF's loop body: every 10th step only measures test accuracy; the
 * others train, and every 100th (99, 199, ...) also records run metadata
 * there */
static int one_step(struct loop *l, long step, char *err, size_t errlen)
{
	uint8_t y[NET_BATCH];
	float acc;
	if (step % 10 == 0) {
		if (trainer_accuracy(l->t, &l->m->test, &acc, err, errlen) != 0)
			return -1;
		printf("Accuracy at step %ld: %.4g\n", step, (double)acc);
		fflush(stdout);
		return 0;
	}
	next_batch(&l->m->train, l->order, &l->cursor, l->r, l->x, y);
	if (trainer_step(l->t, l->x, y, l->r, err, errlen) != 0)
		return -1;
	if (step % 100 == 99)
		printf("Adding run metadata for %ld\n", step);
	return 0;
}

static int run_steps(const struct options *o, struct loop *l, char *err,
    size_t errlen)
{
	char why[400];
	for (long step = 0; step < o->max_steps; step++) {
		if (one_step(l, step, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "step %ld: %s", step, why);
			return -1;
		}
	}
	return 0;
}

static int train(const struct options *o, const struct mnist *m, int gpu)
{
	struct rng r;
	rng_seed(&r, o->seed);
	static struct trainer t;
	char err[512] = "out of memory";
	float *x = malloc((size_t)NET_BATCH * MNIST_PIXELS * sizeof(float));
	uint32_t *order = malloc(m->train.n * sizeof(uint32_t));
	int rc = x == NULL || order == NULL ? -1 :
	    trainer_init(&t, gpu, o, &r, m, err, sizeof(err));
	for (size_t i = 0; rc == 0 && i < m->train.n; i++)
		order[i] = (uint32_t)i;
	struct loop l = { &t, m, &r, x, order, 0 };
	if (rc == 0)
		rc = run_steps(o, &l, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "gpu-validate: %s%s\n", gpu ? "GPU path: " : "",
		    err);
	if (x != NULL && order != NULL)
		trainer_free(&t);
	free(x);
	free(order);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { 1000, 0.001f, 0.9f, GDP_MNIST_DIR, DEVICE_AUTO,
		1 };
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return 0;
		}
		if (parse_one(argc, argv, &i, &o) != 0)
			return 2;
	}
	int gpu = choose_device(o.device);
	if (gpu < 0)
		return 1;
	struct mnist m;
	char err[8192];
	if (mnist_load(o.data_dir, &m, err, sizeof(err)) != 0) {
		fprintf(stderr, "gpu-validate: %s\n", err);
		return 1;
	}
	int rc = train(&o, &m, gpu);
	mnist_free(&m);
	cuda_close();
	return rc == 0 ? 0 : 1;
}
