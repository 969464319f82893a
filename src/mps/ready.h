/*
 * ready.h: the MPS control daemon's ready file, <mps-root>/<resource>/.ready,
 * written by `gpu-device-plugin mps-control-daemon` and read by the plugin
 * (plugin/mpsready.h) before it offers the resource's replicas.
 *
 * A file alone cannot say that its writer still lives: a daemon killed
 * with SIGKILL leaves it behind. So the writer keeps it open and holds an
 * exclusive flock(2) on it for as long as the MPS daemon it stands for
 * runs; the kernel drops the lock when the writer dies, however it dies,
 * and closing a file open for writing is an IN_CLOSE_WRITE event to an
 * inotify watch on its directory. A reader calls the file ready only
 * while it exists and someone holds that lock. The file is made as
 * ".ready.tmp", locked, then renamed, so a reader never sees it unlocked.
 */
#ifndef GDP_MPS_READY_H
#define GDP_MPS_READY_H

#include <stdbool.h>
#include <stddef.h>

#define MPS_READY_NAME ".ready"

/*
 * Creates |dir|/.ready with |text| in it, locked. Returns the open
 * descriptor (the lock lives while it is open: close it with
 * mps_ready_remove()), or a negative errno with |err| naming the path.
 */
int mps_ready_write(const char *dir, const char *text, char *err,
    size_t errlen);
/* Removes |dir|/.ready and closes |fd| (-1: none), which releases the lock. */
void mps_ready_remove(const char *dir, int fd);
/*
 * Whether |dir|/.ready exists and its writer still holds it. |why| gets
 * the reason when not ("missing", "left by a daemon that is gone").
 */
bool mps_ready_check(const char *dir, char *why, size_t whylen);

#endif /* GDP_MPS_READY_H */
