/*
 * loop.h: a small single-threaded event loop on epoll.
 *
 * Everything the daemon waits for is a file descriptor: sockets, signals
 * (signalfd), timers (one timerfd armed for the earliest deadline of a
 * min-heap), wake-ups from another thread (eventfd). One thread runs the
 * loop and owns all state reachable from its callbacks; the only call that
 * is safe from another thread is loop_wakeup_post().
 *
 * Callbacks may add and remove any registration, including their own: the
 * dispatcher checks each event against a generation number, so an fd that
 * was removed (or closed and reused) during the same round is never handed
 * a stale event. There is no global state; several loops may coexist.
 *
 * Actions return 0 or a negative errno; constructors return NULL with
 * errno set. Memory comes from util/alloc.h (so fault tests reach it).
 */
#ifndef GDP_LOOP_H
#define GDP_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_timer;
struct loop_wakeup;

enum {
	LOOP_READ = 1u << 0,
	LOOP_WRITE = 1u << 1,
	/* Reported only, never asked for: hang-up or error on the fd. */
	LOOP_HUP = 1u << 2,
};

/* The longest timer delay; longer ones are cut to it (no overflow). */
#define LOOP_MAX_DELAY_MS (366LL * 24 * 3600 * 1000)

/* Returned by a timer callback to stop the timer (which is then freed). */
#define LOOP_NOMORE (-1)

typedef void (*loop_fd_cb)(struct loop *loop, int fd, unsigned events,
    void *arg);
/* Returns the delay in ms until the next run, or LOOP_NOMORE. */
typedef int64_t (*loop_timer_cb)(struct loop *loop, void *arg);
typedef void (*loop_signal_cb)(struct loop *loop, int signo, void *arg);
typedef void (*loop_wakeup_cb)(struct loop *loop, void *arg);
typedef void (*loop_hook_cb)(struct loop *loop, void *arg);

/*
 * Returns a new loop, or NULL with errno set (ENOMEM, or epoll_create1's
 * or timerfd_create's errno: EMFILE, ENFILE).
 */
struct loop *loop_new(void);
/*
 * Frees the loop and its timers, signal and wake-up registrations. File
 * descriptors added with loop_add_fd() stay the caller's and are not
 * closed.
 */
void loop_free(struct loop *loop);

/*
 * Watches |fd| for |events| (LOOP_READ and/or LOOP_WRITE). |fd| stays the
 * caller's; remove it with loop_del_fd() before closing it. Returns 0,
 * -EEXIST if |fd| is already watched, -ENOMEM, or an epoll_ctl error.
 */
int loop_add_fd(struct loop *loop, int fd, unsigned events, loop_fd_cb cb,
    void *arg);
/* Changes the events watched on |fd|. Returns 0, -ENOENT or an epoll error. */
int loop_mod_fd(struct loop *loop, int fd, unsigned events);
/* Stops watching |fd|; pending events for it are dropped. */
void loop_del_fd(struct loop *loop, int fd);

/*
 * Runs |cb| after |delay_ms| (0: on the next round), then again after each
 * delay it returns, until it returns LOOP_NOMORE or the timer is cancelled.
 * Returns the timer, owned by the loop, or NULL with errno = ENOMEM: the
 * caller must then do without it, visibly (nothing will run).
 */
struct loop_timer *loop_add_timer(struct loop *loop, int64_t delay_ms,
    loop_timer_cb cb, void *arg);
/*
 * Moves the next run of the live |timer| to |delay_ms| from now (0: the
 * next round). Never allocates, so it cannot fail: a timer made at start
 * can be brought forward when memory is short. Not from the timer's own
 * callback (return the delay there instead).
 */
void loop_timer_reset(struct loop *loop, struct loop_timer *timer,
    int64_t delay_ms);
/*
 * Cancels and frees |timer|; safe from any callback, the timer's own
 * included. |timer| must be live (not yet stopped by LOOP_NOMORE).
 */
void loop_cancel_timer(struct loop *loop, struct loop_timer *timer);

/*
 * Delivers |signo| through a signalfd: the signal is blocked for the
 * calling thread (start threads after this, or block it in them too) and
 * |cb| runs on the loop. Returns 0, -EEXIST, -ENOMEM or a system error.
 */
int loop_add_signal(struct loop *loop, int signo, loop_signal_cb cb,
    void *arg);

/*
 * A wake-up: another thread calls loop_wakeup_post(), and |cb| runs once on
 * the loop for any number of posts since the last run. Owned by the loop
 * (freed by loop_free()). Returns NULL with errno set: ENOMEM, or
 * eventfd's (EMFILE, ENFILE) or epoll_ctl's errno.
 */
struct loop_wakeup *loop_add_wakeup(struct loop *loop, loop_wakeup_cb cb,
    void *arg);
/* Thread-safe and async-signal-safe. */
void loop_wakeup_post(struct loop_wakeup *wakeup);

/*
 * Runs |cb| before every wait for events (after each round's callbacks).
 * Used to flush buffered output and reap objects marked for freeing.
 * Returns 0 or -ENOMEM.
 */
int loop_add_before_sleep(struct loop *loop, loop_hook_cb cb, void *arg);
/* Removes the hook added with the same |cb| and |arg|, if any. */
void loop_del_before_sleep(struct loop *loop, loop_hook_cb cb, void *arg);

/* Runs until loop_stop(). Returns 0, or a negative errno from epoll. */
int loop_run(struct loop *loop);
/*
 * Runs one round: waits at most |timeout_ms| (-1: no limit) for events and
 * dispatches them. Returns the number of callbacks run, or a negative errno.
 */
int loop_run_once(struct loop *loop, int timeout_ms);
/* Makes loop_run() return after the current round. */
void loop_stop(struct loop *loop);

/* Monotonic clock, in ms and in ns. */
int64_t loop_now_ms(void);
int64_t loop_now_ns(void);
/*
 * The monotonic clock (ms) as read once per round, when the wait ends
 * (and when loop_run() starts): for bookkeeping to which a round's work
 * is an error small enough (timeouts of seconds), so that per-request
 * code does not read the clock again and again.
 */
int64_t loop_round_ms(const struct loop *loop);

#endif /* GDP_LOOP_H */
