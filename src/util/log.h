/*
 * log.h: klog-style log lines on stderr, the format operators already grep
 * for in NVIDIA's plugin and every Kubernetes component:
 *
 *	I1128 16:30:01.123456    4242 plugin.c:120] Registered with the kubelet
 *
 * Severity letter (I, W, E), month and day, wall-clock time with
 * microseconds, thread id, source file and line. Only main-level code
 * logs; the layers below return errors (docs/architecture.md).
 */
#ifndef GDP_LOG_H
#define GDP_LOG_H

enum log_level { LOG_INFO = 'I', LOG_WARNING = 'W', LOG_ERROR = 'E' };

void log_write(enum log_level level, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#define log_info(...) log_write(LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARNING, __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)

#endif /* GDP_LOG_H */
