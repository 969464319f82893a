/*
 * process.h: the standard process_* series of the Prometheus client
 * libraries (resident and virtual memory, CPU seconds, open descriptors
 * and their limit, start time), read from /proc/self and the kernel at
 * scrape time.
 */
#ifndef GDP_METRICS_PROCESS_H
#define GDP_METRICS_PROCESS_H

struct metrics_text;

/* Remembers the start time (CLOCK_REALTIME); call once, early in main. */
void metrics_process_start(void);
/* Writes the process_* families to |t|; a value that cannot be read is
 * left out (its family too). */
void metrics_process_write(struct metrics_text *t);

#endif /* GDP_METRICS_PROCESS_H */
