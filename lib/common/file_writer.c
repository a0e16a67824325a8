/* Whole-file writes that a crash never leaves half done: see file_writer.h
 * for the steps and the policy for links and special files.
 *
 * Needs only libc (POSIX 2008) and the status codes of cosnet.h, so that the
 * example programs can compile this file into themselves. Paths are held in
 * PATH_MAX buffers on the stack: no allocation at all. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "file_writer.h"
#ifdef COSNET_BUILDING_LIBRARY
#include "error.h"
#endif

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

enum {
    NAME_KEEP = 200,    /* bytes of NAME kept in a temporary name */
    MAX_LINKS = 40,     /* symbolic links followed before ELOOP */
    MAX_ATTEMPTS = 1000 /* temporary names tried before giving up */
};

#define TEMP_MARKER ".cosnet-tmp."

/* Where a failure's message goes. */
typedef struct report {
    char *text;
    size_t size;
} report;

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static cosnet_status
fail(report *out, cosnet_status status, const char *format, ...)
{
    if (out->size > 0) {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(out->text, out->size, format, arguments);
        va_end(arguments);
    }
    return status;
}

/* The system's reason for errno `number`, thread-safely. */
static const char *describe(int number, char *text, size_t size)
{
    /* strerror_r (the POSIX one) because strerror is not thread-safe. */
    if (strerror_r(number, text, size) != 0)
        snprintf(text, size, "error %d", number);
    return text;
}

/* Copies `text` into a PATH_MAX buffer; 0 or ENAMETOOLONG. */
static int copy_path(char *out, const char *text)
{
    size_t length = strlen(text);
    if (length >= PATH_MAX)
        return ENAMETOOLONG;
    memcpy(out, text, length + 1);
    return 0;
}

/* Splits `path` into its folder (into `folder`, "." when the path has no
 * slash) and its last component (*name, pointing into `path`). */
static int split_path(const char *path, char *folder, const char **name)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *name = path;
        return copy_path(folder, ".");
    }
    *name = slash + 1;
    size_t length = slash == path ? 1 : (size_t)(slash - path);
    if (length >= PATH_MAX)
        return ENAMETOOLONG;
    memcpy(folder, path, length);
    folder[length] = '\0';
    return 0;
}

/* Follows `path` through symbolic links into `out` (PATH_MAX bytes): the
 * name whose file is to be replaced. A final name that does not exist yet
 * is fine (a dangling link creates its target). Returns 0 or an errno. */
static int resolve_links(const char *path, char *out)
{
    int number = copy_path(out, path);
    for (int hops = 0; number == 0; hops++) {
        struct stat info;
        if (lstat(out, &info) != 0)
            return errno == ENOENT ? 0 : errno;
        if (!S_ISLNK(info.st_mode))
            return 0;
        if (hops == MAX_LINKS)
            return ELOOP;
        char link[PATH_MAX];
        ssize_t length = readlink(out, link, sizeof link - 1);
        if (length < 0)
            return errno;
        link[length] = '\0';
        if (link[0] == '/') {
            number = copy_path(out, link);
        } else {
            /* Relative to the folder holding the link. */
            char folder[PATH_MAX];
            const char *name;
            number = split_path(out, folder, &name);
            if (number == 0) {
                int written = snprintf(out, PATH_MAX, "%s/%s", folder, link);
                if (written < 0 || written >= PATH_MAX)
                    number = ENAMETOOLONG;
            }
        }
    }
    return number;
}

/* Writes all bytes, retrying short writes and EINTR; 0 or an errno. */
static int write_all(int descriptor, const unsigned char *bytes, size_t size)
{
    while (size > 0) {
        size_t piece = size > (1u << 30) ? (1u << 30) : size;
        ssize_t written = write(descriptor, bytes, piece);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (written == 0)
            return EIO;
        bytes += written;
        size -= (size_t)written;
    }
    return 0;
}

/* A FIFO, a device or a terminal: written straight into, never replaced. */
static cosnet_status write_special(const char *path, const void *data,
                                   size_t size, report *out)
{
    char reason[128];
    int descriptor = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (descriptor < 0)
        return fail(out, COSNET_ERROR_IO, "%s: cannot open for writing: %s",
                    path, describe(errno, reason, sizeof reason));
    int number = write_all(descriptor, data, size);
    if (close(descriptor) != 0 && number == 0 && errno != EINTR)
        number = errno;
    if (number != 0)
        return fail(out, COSNET_ERROR_IO, "%s: cannot write: %s", path,
                    describe(number, reason, sizeof reason));
    return COSNET_OK;
}

/* "." NAME (cut to NAME_KEEP bytes) ".cosnet-tmp.": the start of every
 * temporary name of the target NAME. */
static void temp_prefix(const char *name, char *prefix, size_t size)
{
    snprintf(prefix, size, ".%.*s" TEMP_MARKER, (int)NAME_KEEP, name);
}

/* Removes the temporary files of `name` in `folder` whose process is gone:
 * ".NAME.cosnet-tmp.PID.N" with kill(PID, 0) failing with ESRCH. Failures
 * here are not the caller's problem: the save goes on. */
static void remove_stale(const char *folder, const char *name)
{
    char prefix[NAME_KEEP + sizeof TEMP_MARKER + 2];
    temp_prefix(name, prefix, sizeof prefix);
    size_t prefix_length = strlen(prefix);
    DIR *directory = opendir(folder);
    if (!directory)
        return;
    pid_t self = getpid();
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        const char *p = entry->d_name;
        if (strncmp(p, prefix, prefix_length) != 0)
            continue;
        p += prefix_length;
        long long pid = 0;
        int digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
            pid = pid * 10 + (*p - '0');
        if (digits == 0 || *p != '.' || !p[1])
            continue;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
        if (*p != '\0' || pid <= 0 || (pid_t)pid != pid || (pid_t)pid == self)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive, or someone else's: keep it */
        (void)unlinkat(dirfd(directory), entry->d_name, 0);
    }
    closedir(directory);
}

/* Creates a fresh temporary file beside `name` in `folder`; its name goes
 * into `temp` (PATH_MAX bytes). Returns the descriptor, or -1 with errno. */
static int create_temp(const char *folder, const char *name, char *temp)
{
    char prefix[NAME_KEEP + sizeof TEMP_MARKER + 2];
    temp_prefix(name, prefix, sizeof prefix);
    for (unsigned attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        int written = snprintf(temp, PATH_MAX, "%s/%s%lld.%u", folder, prefix,
                               (long long)getpid(), attempt);
        if (written < 0 || written >= PATH_MAX) {
            errno = ENAMETOOLONG;
            return -1;
        }
        /* 0666: the caller's umask decides the final mode. */
        int descriptor =
            open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (descriptor >= 0 || errno != EEXIST)
            return descriptor;
    }
    errno = EEXIST;
    return -1;
}

/* fsync of the folder, so the rename is on disk. Filesystems that cannot
 * sync a folder say EINVAL; that is not a failure. 0 or an errno. */
static int sync_folder(const char *folder)
{
    int descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (descriptor < 0)
        return errno;
    int number = 0;
    if (fsync(descriptor) != 0 && errno != EINVAL)
        number = errno;
    close(descriptor);
    return number;
}

/* Steps 1-3 of file_writer.h for the regular file `target`. */
static cosnet_status replace_file(const char *path, const char *target,
                                  const void *data, size_t size, report *out)
{
    char folder[PATH_MAX], temp[PATH_MAX], reason[128];
    const char *name;
    int number = split_path(target, folder, &name);
    if (number == 0 && *name == '\0')
        number = EISDIR;
    if (number != 0)
        return fail(out, COSNET_ERROR_IO, "%s: not a file name: %s", path,
                    describe(number, reason, sizeof reason));
    remove_stale(folder, name);
    int descriptor = create_temp(folder, name, temp);
    if (descriptor < 0)
        return fail(out, COSNET_ERROR_IO,
                    "%s: cannot create temporary file %s: %s", path, temp,
                    describe(errno, reason, sizeof reason));
    const char *step = NULL;
    number = write_all(descriptor, data, size);
    if (number != 0)
        step = "write";
    else if (fsync(descriptor) != 0)
        number = errno, step = "sync";
    if (close(descriptor) != 0 && !step && errno != EINTR)
        number = errno, step = "close";
    if (!step && rename(temp, target) != 0)
        number = errno, step = "rename";
    if (step) {
        unlink(temp);
        return fail(out, COSNET_ERROR_IO, "%s: cannot %s temporary file %s: %s",
                    path, step, temp, describe(number, reason, sizeof reason));
    }
    number = sync_folder(folder);
    if (number != 0)
        return fail(out, COSNET_ERROR_IO,
                    "%s: written, but cannot sync the folder %s: %s", path,
                    folder, describe(number, reason, sizeof reason));
    return COSNET_OK;
}

/* Where a write of `path` goes: *special set for a file to write straight
 * into (`path` itself), else `target` (PATH_MAX bytes) receives the name of
 * the regular file to replace. */
static cosnet_status find_target(const char *path, char *target, int *special,
                                 report *out)
{
    char reason[128];
    struct stat info;
    int exists = stat(path, &info) == 0;
    *special = 0;
    /* A folder takes the regular way: its rename fails (EISDIR). */
    if (exists && !S_ISREG(info.st_mode) && !S_ISDIR(info.st_mode)) {
        *special = 1;
        return COSNET_OK;
    }
    int number = resolve_links(path, target);
    if (number != 0) {
        /* ENOTDIR: a folder of the path is a file; not about links. */
        struct stat link_info;
        const int is_link =
            lstat(path, &link_info) == 0 && S_ISLNK(link_info.st_mode);
        return fail(out, COSNET_ERROR_IO, "%s: %s: %s", path,
                    is_link ? "cannot follow the link"
                            : "cannot reach the folder",
                    describe(number, reason, sizeof reason));
    }
    /* A link whose text names no real path (/proc/self/fd/N of a deleted
     * file, say) leads elsewhere than the kernel goes: write through it. */
    struct stat resolved;
    if (exists &&
        (stat(target, &resolved) != 0 || resolved.st_dev != info.st_dev ||
         resolved.st_ino != info.st_ino))
        *special = 1;
    return COSNET_OK;
}

cosnet_status file_write_atomic_message(const char *path, const void *data,
                                        size_t size, char *message,
                                        size_t message_size)
{
    report out = {message, message_size};
    if (message_size > 0)
        message[0] = '\0';
    if (!path || !*path || (!data && size > 0))
        return fail(&out, COSNET_ERROR_INVALID_ARGUMENT,
                    "file_write_atomic: %s",
                    !path || !*path ? "no path" : "data is NULL");
    char target[PATH_MAX];
    int special = 0;
    cosnet_status status = find_target(path, target, &special, &out);
    if (status != COSNET_OK)
        return status;
    if (special)
        return write_special(path, data, size, &out);
    return replace_file(path, target, data, size, &out);
}

cosnet_status file_write_check_message(const char *path, char *message,
                                       size_t message_size)
{
    report out = {message, message_size};
    if (message_size > 0)
        message[0] = '\0';
    if (!path || !*path)
        return fail(&out, COSNET_ERROR_INVALID_ARGUMENT,
                    "file_write_check: no path");
    char target[PATH_MAX], folder[PATH_MAX], temp[PATH_MAX], reason[128];
    int special = 0;
    cosnet_status status = find_target(path, target, &special, &out);
    if (status != COSNET_OK)
        return status;
    if (special) {
        if (access(path, W_OK) != 0)
            return fail(&out, COSNET_ERROR_IO, "%s: cannot write: %s", path,
                        describe(errno, reason, sizeof reason));
        return COSNET_OK;
    }
    struct stat info;
    if (stat(target, &info) == 0 && S_ISDIR(info.st_mode))
        return fail(&out, COSNET_ERROR_IO, "%s: is a folder, not a file", path);
    const char *name;
    int number = split_path(target, folder, &name);
    if (number == 0 && *name == '\0')
        number = EISDIR;
    if (number != 0)
        return fail(&out, COSNET_ERROR_IO, "%s: not a file name: %s", path,
                    describe(number, reason, sizeof reason));
    int descriptor = create_temp(folder, name, temp);
    if (descriptor < 0)
        return fail(&out, COSNET_ERROR_IO,
                    "%s: cannot create temporary file %s: %s", path, temp,
                    describe(errno, reason, sizeof reason));
    close(descriptor);
    unlink(temp);
    return COSNET_OK;
}

#ifdef COSNET_BUILDING_LIBRARY
cosnet_status file_write_atomic(const char *path, const void *data, size_t size)
{
    char message[FILE_WRITE_MESSAGE_SIZE];
    cosnet_status status =
        file_write_atomic_message(path, data, size, message, sizeof message);
    if (status != COSNET_OK)
        return error_set(status, "%s", message);
    return COSNET_OK;
}
#endif
