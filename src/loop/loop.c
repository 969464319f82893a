/*
 * loop.c: the event loop (see loop.h for the contract).
 *
 * Registrations live in an array indexed by fd. Each registration carries a
 * generation number that is also stored in the epoll event's data, so an
 * event fetched in a round whose fd was removed or re-added since is
 * recognised as stale and dropped.
 *
 * Timers are a binary min-heap on their due time; one timerfd (itself an
 * ordinary registration) is armed for the earliest one before each wait.
 * Signals share one signalfd; each wake-up has its own eventfd.
 */
#include "loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util/alloc.h"

#define MAX_EVENTS 64
#define NSEC_PER_MSEC 1000000LL

struct fd_slot {
	loop_fd_cb cb;
	void *arg;
	unsigned events;
	uint32_t gen;
	bool used;
};

struct loop_timer {
	int64_t due_ns;
	size_t heap_index;
	loop_timer_cb cb;
	void *arg;
	bool running;
	bool cancelled;
};

struct signal_slot {
	loop_signal_cb cb;
	void *arg;
};

struct loop_wakeup {
	int fd;
	loop_wakeup_cb cb;
	void *arg;
	SLIST_ENTRY(loop_wakeup) link;
};

struct hook {
	loop_hook_cb cb;
	void *arg;
};

struct loop {
	int epfd;
	bool stopping;
	int64_t round_ms;               /* loop_round_ms() */
	uint32_t next_gen;

	struct fd_slot *slots;
	size_t nslots;

	struct loop_timer **heap;
	size_t nheap, heap_cap;
	int timerfd;
	int64_t armed_ns; /* due time the timerfd is set for; 0: disarmed */

	int sigfd;
	sigset_t sigmask;
	struct signal_slot signals[_NSIG];

	SLIST_HEAD(wakeup_list, loop_wakeup) wakeups;

	struct hook *hooks;
	size_t nhooks;
};

static void timerfd_ready(struct loop *loop, int fd, unsigned events,
    void *arg);

int64_t
loop_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
loop_now_ms(void)
{
	return loop_now_ns() / NSEC_PER_MSEC;
}

int64_t
loop_round_ms(const struct loop *loop)
{
	return loop->round_ms;
}

struct loop *
loop_new(void)
{
	struct loop *loop = gdp_calloc(1, sizeof(*loop));
	int rc, saved;

	if (loop == NULL)
		return NULL;
	loop->sigfd = -1;
	loop->round_ms = loop_now_ms();
	SLIST_INIT(&loop->wakeups);
	sigemptyset(&loop->sigmask);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto out_free_loop;
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC);
	if (loop->timerfd < 0)
		goto out_close_ep;
	rc = loop_add_fd(loop, loop->timerfd, LOOP_READ, timerfd_ready, NULL);
	if (rc < 0) {
		errno = -rc;
		goto out_close_timer;
	}
	return loop;

out_close_timer:
	close(loop->timerfd);
out_close_ep:
	close(loop->epfd);
out_free_loop:
	saved = errno; /* the failed call's (EMFILE, ...), not free's */
	gdp_free(loop->slots);
	gdp_free(loop);
	errno = saved;
	return NULL;
}

void
loop_free(struct loop *loop)
{
	struct loop_wakeup *w;

	if (loop == NULL)
		return;
	for (size_t i = 0; i < loop->nheap; i++)
		gdp_free(loop->heap[i]);
	while ((w = SLIST_FIRST(&loop->wakeups)) != NULL) {
		SLIST_REMOVE_HEAD(&loop->wakeups, link);
		close(w->fd);
		gdp_free(w);
	}
	if (loop->sigfd >= 0)
		close(loop->sigfd);
	close(loop->timerfd);
	close(loop->epfd);
	gdp_free(loop->heap);
	gdp_free(loop->slots);
	gdp_free(loop->hooks);
	gdp_free(loop);
}

static uint32_t
epoll_mask(unsigned events)
{
	return ((events & LOOP_READ) ? EPOLLIN : 0) |
	    ((events & LOOP_WRITE) ? EPOLLOUT : 0);
}

static int
grow_slots(struct loop *loop, int fd)
{
	size_t n = loop->nslots ? loop->nslots : 64;
	struct fd_slot *slots;

	while (n <= (size_t)fd)
		n *= 2;
	slots = gdp_realloc(loop->slots, n * sizeof(*slots));
	if (slots == NULL)
		return -ENOMEM;
	memset(slots + loop->nslots, 0,
	    (n - loop->nslots) * sizeof(*slots));
	loop->slots = slots;
	loop->nslots = n;
	return 0;
}

int
loop_add_fd(struct loop *loop, int fd, unsigned events, loop_fd_cb cb,
    void *arg)
{
	struct epoll_event ev = { 0 };
	struct fd_slot *slot;
	int rc;

	if (fd < 0)
		return -EBADF;
	if ((size_t)fd >= loop->nslots && (rc = grow_slots(loop, fd)) < 0)
		return rc;
	slot = &loop->slots[fd];
	if (slot->used)
		return -EEXIST;
	slot->gen = ++loop->next_gen;
	ev.events = epoll_mask(events);
	ev.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)slot->gen << 32);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	slot->cb = cb;
	slot->arg = arg;
	slot->events = events;
	slot->used = true;
	return 0;
}

int
loop_mod_fd(struct loop *loop, int fd, unsigned events)
{
	struct epoll_event ev = { 0 };
	struct fd_slot *slot;

	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].used)
		return -ENOENT;
	slot = &loop->slots[fd];
	if (slot->events == events)
		return 0;
	ev.events = epoll_mask(events);
	ev.data.u64 = (uint64_t)(uint32_t)fd | ((uint64_t)slot->gen << 32);
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	slot->events = events;
	return 0;
}

void
loop_del_fd(struct loop *loop, int fd)
{
	if (fd < 0 || (size_t)fd >= loop->nslots || !loop->slots[fd].used)
		return;
	/* Fails only if |fd| was closed first (epoll forgot it already). */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->slots[fd].used = false;
	loop->slots[fd].gen = 0;
}

/* ---- timers: a binary min-heap on due_ns ---- */

static void
heap_set(struct loop *loop, size_t i, struct loop_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void
heap_sift_up(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->due_ns <= t->due_ns)
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void
heap_sift_down(struct loop *loop, size_t i)
{
	struct loop_timer *t = loop->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap &&
		    loop->heap[child + 1]->due_ns < loop->heap[child]->due_ns)
			child++;
		if (t->due_ns <= loop->heap[child]->due_ns)
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

static int
heap_push(struct loop *loop, struct loop_timer *t)
{
	if (loop->nheap == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
		struct loop_timer **heap;

		heap = gdp_realloc(loop->heap, cap * sizeof(*heap));
		if (heap == NULL)
			return -ENOMEM;
		loop->heap = heap;
		loop->heap_cap = cap;
	}
	heap_set(loop, loop->nheap++, t);
	heap_sift_up(loop, t->heap_index);
	return 0;
}

static void
heap_remove(struct loop *loop, struct loop_timer *t)
{
	size_t i = t->heap_index;
	struct loop_timer *last = loop->heap[--loop->nheap];

	if (last == t)
		return;
	heap_set(loop, i, last);
	heap_sift_down(loop, i);
	heap_sift_up(loop, last->heap_index);
}

/* The monotonic time |delay_ms| from now, the delay kept in [0, a year]:
 * no delay a caller passes can overflow the clock's int64. */
static int64_t
due_after(int64_t delay_ms)
{
	if (delay_ms < 0)
		delay_ms = 0;
	if (delay_ms > LOOP_MAX_DELAY_MS)
		delay_ms = LOOP_MAX_DELAY_MS;
	return loop_now_ns() + delay_ms * NSEC_PER_MSEC;
}

struct loop_timer *
loop_add_timer(struct loop *loop, int64_t delay_ms, loop_timer_cb cb,
    void *arg)
{
	struct loop_timer *t = gdp_calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cb = cb;
	t->arg = arg;
	t->due_ns = due_after(delay_ms);
	if (heap_push(loop, t) < 0) {
		gdp_free(t);
		return NULL;
	}
	return t;
}

void
loop_timer_reset(struct loop *loop, struct loop_timer *timer,
    int64_t delay_ms)
{
	if (timer->running)
		return;
	timer->due_ns = due_after(delay_ms);
	heap_sift_down(loop, timer->heap_index);
	heap_sift_up(loop, timer->heap_index);
}

void
loop_cancel_timer(struct loop *loop, struct loop_timer *timer)
{
	if (timer == NULL)
		return;
	if (timer->running) {
		timer->cancelled = true; /* freed when its callback returns */
		return;
	}
	heap_remove(loop, timer);
	gdp_free(timer);
}

static void
arm_timerfd(struct loop *loop)
{
	struct itimerspec its = { 0 };
	int64_t due = loop->nheap ? loop->heap[0]->due_ns : 0;

	if (due == loop->armed_ns)
		return;
	if (due > 0) {
		its.it_value.tv_sec = due / 1000000000LL;
		its.it_value.tv_nsec = due % 1000000000LL;
	}
	/* Fails only for values we never pass; then retried next round. */
	if (timerfd_settime(loop->timerfd, TFD_TIMER_ABSTIME, &its,
	    NULL) < 0)
		return;
	loop->armed_ns = due;
}

static void
run_timer(struct loop *loop, struct loop_timer *t, int64_t round_ns)
{
	int64_t delay;

	heap_remove(loop, t);
	t->running = true;
	delay = t->cb(loop, t->arg);
	t->running = false;
	if (t->cancelled || delay < 0) {
		gdp_free(t);
		return;
	}
	t->due_ns = due_after(delay);
	if (t->due_ns <= round_ns)
		t->due_ns = round_ns + 1; /* never twice in one round */
	if (heap_push(loop, t) < 0)
		gdp_free(t); /* cannot happen: its old slot is still there */
}

static void
timerfd_ready(struct loop *loop, int fd, unsigned events, void *arg)
{
	uint64_t expirations;
	int64_t now = loop_now_ns();

	if (read(fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		return;
	loop->armed_ns = 0; /* a fired timerfd is disarmed */
	while (loop->nheap > 0 && loop->heap[0]->due_ns <= now)
		run_timer(loop, loop->heap[0], now);
}

/* ---- signals ---- */

static void
signalfd_ready(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		struct signal_slot *s;

		if (si.ssi_signo >= _NSIG)
			continue;
		s = &loop->signals[si.ssi_signo];
		if (s->cb != NULL)
			s->cb(loop, (int)si.ssi_signo, s->arg);
	}
}

int
loop_add_signal(struct loop *loop, int signo, loop_signal_cb cb, void *arg)
{
	sigset_t mask = loop->sigmask;
	int fd;

	if (signo <= 0 || signo >= _NSIG)
		return -EINVAL;
	if (loop->signals[signo].cb != NULL)
		return -EEXIST;
	sigaddset(&mask, signo);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	fd = signalfd(loop->sigfd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (loop->sigfd < 0) {
		int rc = loop_add_fd(loop, fd, LOOP_READ, signalfd_ready, NULL);

		if (rc < 0) {
			close(fd);
			return rc;
		}
		loop->sigfd = fd;
	}
	loop->sigmask = mask;
	loop->signals[signo].cb = cb;
	loop->signals[signo].arg = arg;
	return 0;
}

/* ---- wake-ups ---- */

static void
wakeup_ready(struct loop *loop, int fd, unsigned events, void *arg)
{
	struct loop_wakeup *w = arg;
	uint64_t count;

	if (read(fd, &count, sizeof(count)) == (ssize_t)sizeof(count))
		w->cb(loop, w->arg);
}

struct loop_wakeup *
loop_add_wakeup(struct loop *loop, loop_wakeup_cb cb, void *arg)
{
	struct loop_wakeup *w = gdp_calloc(1, sizeof(*w));
	int rc;

	if (w == NULL)
		return NULL;
	w->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->fd < 0)
		goto out_free_wakeup;   /* errno is eventfd's */
	w->cb = cb;
	w->arg = arg;
	rc = loop_add_fd(loop, w->fd, LOOP_READ, wakeup_ready, w);
	if (rc < 0) {
		errno = -rc;
		goto out_close_fd;
	}
	SLIST_INSERT_HEAD(&loop->wakeups, w, link);
	return w;

out_close_fd:
	close(w->fd);
out_free_wakeup:
	rc = errno; /* eventfd's or epoll_ctl's (EMFILE, ...), not free's */
	gdp_free(w);
	errno = rc;
	return NULL;
}

void
loop_wakeup_post(struct loop_wakeup *wakeup)
{
	uint64_t one = 1;
	ssize_t n;

	/* Only fails when the counter would overflow: a wake-up is pending. */
	n = write(wakeup->fd, &one, sizeof(one));
	(void)n;
}

/* ---- running ---- */

int
loop_add_before_sleep(struct loop *loop, loop_hook_cb cb, void *arg)
{
	struct hook *hooks;

	hooks = gdp_realloc(loop->hooks, (loop->nhooks + 1) * sizeof(*hooks));
	if (hooks == NULL)
		return -ENOMEM;
	hooks[loop->nhooks].cb = cb;
	hooks[loop->nhooks].arg = arg;
	loop->hooks = hooks;
	loop->nhooks++;
	return 0;
}

void
loop_del_before_sleep(struct loop *loop, loop_hook_cb cb, void *arg)
{
	for (size_t i = 0; i < loop->nhooks; i++) {
		if (loop->hooks[i].cb != cb || loop->hooks[i].arg != arg)
			continue;
		memmove(&loop->hooks[i], &loop->hooks[i + 1],
		    (loop->nhooks - i - 1) * sizeof(loop->hooks[0]));
		loop->nhooks--;
		return;
	}
}

static unsigned
loop_events(uint32_t ep)
{
	return ((ep & EPOLLIN) ? LOOP_READ : 0) |
	    ((ep & EPOLLOUT) ? LOOP_WRITE : 0) |
	    ((ep & (EPOLLHUP | EPOLLERR)) ? LOOP_HUP : 0);
}

int
loop_run_once(struct loop *loop, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, ran = 0;

	for (size_t i = 0; i < loop->nhooks; i++)
		loop->hooks[i].cb(loop, loop->hooks[i].arg);
	arm_timerfd(loop);
	n = epoll_wait(loop->epfd, evs, MAX_EVENTS, timeout_ms);
	loop->round_ms = loop_now_ms();
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t gen = (uint32_t)(evs[i].data.u64 >> 32);
		struct fd_slot *slot;

		/* Re-read the slot: an earlier callback may have changed it. */
		if ((size_t)fd >= loop->nslots)
			continue;
		slot = &loop->slots[fd];
		if (!slot->used || slot->gen != gen)
			continue;
		slot->cb(loop, fd, loop_events(evs[i].events), slot->arg);
		ran++;
	}
	return ran;
}

int
loop_run(struct loop *loop)
{
	loop->stopping = false;
	loop->round_ms = loop_now_ms();
	while (!loop->stopping) {
		int rc = loop_run_once(loop, -1);

		if (rc < 0)
			return rc;
	}
	return 0;
}

void
loop_stop(struct loop *loop)
{
	loop->stopping = true;
}
