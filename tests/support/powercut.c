/* A power-cut model for tests/test_power_cut.py, loaded with LD_PRELOAD into the bot.
 *
 * After every successful fsync()/fdatasync() of a regular file under $POWERCUT_WATCH, the
 * file's whole content (as it is right then: what the disk now holds) is copied to
 * $POWERCUT_DISK/<n>-<name>, and one line "<n> <unix time ns> <name> <size>" is appended to
 * $POWERCUT_DISK/syncs.log, n counting syncs from 1. A power cut at any moment leaves, of
 * each file, exactly its latest copy made before that moment (or nothing, if it was never
 * synced): bytes written but not synced are the ones a power cut may lose, and this model
 * loses all of them. The copy is made before the sync call returns to SQLite, so it is
 * logged before anything the caller does after the sync (such as sending a reply).
 * $POWERCUT_DELAY_US makes every sync that long (a slow disk): a reply that does not wait
 * for the sync of its commit then reaches the fake Bot API before the sync is logged. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long syncs = 0;

static void slow_disk(void) {
    const char *delay = getenv("POWERCUT_DELAY_US");
    if (delay) usleep((useconds_t)atoi(delay));
}

static void snapshot(int fd) {
    const char *watch = getenv("POWERCUT_WATCH"), *disk = getenv("POWERCUT_DISK");
    char link[64], path[PATH_MAX], copy[PATH_MAX], log[PATH_MAX], buffer[65536];
    struct stat st;
    if (!watch || !disk || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, path, sizeof path - 1);
    if (length <= 0) return;
    path[length] = 0;
    size_t prefix = strlen(watch);
    if (strncmp(path, watch, prefix) != 0 || path[prefix] != '/') return;
    const char *name = path + prefix + 1;
    pthread_mutex_lock(&lock);
    unsigned long n = ++syncs;
    snprintf(copy, sizeof copy, "%s/%lu-%s", disk, n, name);
    int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    off_t offset = 0, size = 0;
    ssize_t got;
    while (out >= 0 && (got = pread(fd, buffer, sizeof buffer, offset)) > 0) {
        if (write(out, buffer, (size_t)got) != got) break;
        offset += got;
    }
    size = offset;
    if (out >= 0) close(out);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);  /* time.time() in the test */
    snprintf(log, sizeof log, "%s/syncs.log", disk);
    FILE *lines = fopen(log, "a");
    if (lines) {
        fprintf(lines, "%lu %lld %s %lld\n", n,
                (long long)now.tv_sec * 1000000000LL + now.tv_nsec, name, (long long)size);
        fclose(lines);
    }
    pthread_mutex_unlock(&lock);
}

int fsync(int fd) {
    static int (*real)(int) = NULL;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    slow_disk();
    int result = real(fd);
    if (result == 0) snapshot(fd);
    return result;
}

int fdatasync(int fd) {
    static int (*real)(int) = NULL;
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    slow_disk();
    int result = real(fd);
    if (result == 0) snapshot(fd);
    return result;
}
