/* Unit tests of common/file_writer: the one way models, label sets and the
 * programs' JSON are written. Modes follow the umask; symbolic links are
 * kept and their target replaced; FIFOs and devices are written into, never
 * replaced; failures name the path and the step and leave no temporary
 * file; temporaries of dead processes are swept, live ones kept. */
/* mknod of a character device is an XSI interface. */
#define _XOPEN_SOURCE 700

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cosnet.h"
#include "common/file_writer.h"

static char folder[] = "/tmp/cosnet-test-file-writer-XXXXXX";

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", folder, name);
}

/* Number of entries of the scratch folder whose name contains `part`
 * (all entries for ""), "." and ".." excluded. */
static int entries_with(const char *part)
{
    DIR *directory = opendir(folder);
    assert_non_null(directory);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL)
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, "..") &&
            strstr(entry->d_name, part))
            count++;
    closedir(directory);
    return count;
}

static void empty_folder(void)
{
    DIR *directory = opendir(folder);
    assert_non_null(directory);
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
            continue;
        char path[600];
        path_in(path, sizeof path, entry->d_name);
        if (unlink(path) != 0)
            assert_int_equal(rmdir(path), 0);
    }
    closedir(directory);
}

/* The whole file as a NUL-terminated string (at most 4095 bytes). */
static const char *contents(const char *path)
{
    static char text[4096];
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    size_t got = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[got] = '\0';
    return text;
}

static void put(const char *path, const char *text)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static mode_t mode_of(const char *path)
{
    struct stat info;
    assert_int_equal(stat(path, &info), 0);
    return info.st_mode & 07777;
}

static void assert_message_has(const char *message, const char *part)
{
    if (!strstr(message, part))
        fail_msg("message '%s' lacks '%s'", message, part);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(folder) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    empty_folder();
    return rmdir(folder);
}

/* ------------------------------------------------------------------------ */

static void test_writes_and_replaces(void **state)
{
    (void)state;
    char path[600];
    path_in(path, sizeof path, "plain.txt");
    assert_int_equal(file_write_atomic(path, "first", 5), COSNET_OK);
    assert_string_equal(contents(path), "first");
    assert_int_equal(file_write_atomic(path, "second, longer", 14), COSNET_OK);
    assert_string_equal(contents(path), "second, longer");
    assert_int_equal(file_write_atomic(path, "", 0), COSNET_OK);
    assert_string_equal(contents(path), "");
    assert_int_equal(entries_with(""), 1); /* no temporary left */

    /* A name with no folder part goes to the working folder. */
    char cwd[600];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(folder), 0);
    assert_int_equal(file_write_atomic("bare.txt", "bare", 4), COSNET_OK);
    assert_int_equal(chdir(cwd), 0);
    path_in(path, sizeof path, "bare.txt");
    assert_string_equal(contents(path), "bare");
    empty_folder();
}

/* The three kinds of file the project writes, under two umasks. */
static void write_three(const char *suffix)
{
    char path[600], name[64];
    cosnet_model *model = NULL;
    assert_int_equal(cosnet_model_create(COSNET_ARCHITECTURE_SEED, 1, &model),
                     COSNET_OK);
    snprintf(name, sizeof name, "model%s.cosnet", suffix);
    path_in(path, sizeof path, name);
    assert_int_equal(cosnet_model_save(model, path), COSNET_OK);
    cosnet_model_free(model);

    cosnet_labels *labels = NULL;
    assert_int_equal(cosnet_labels_builtin(&labels), COSNET_OK);
    snprintf(name, sizeof name, "labels%s.txt", suffix);
    path_in(path, sizeof path, name);
    assert_int_equal(cosnet_labels_save(labels, path), COSNET_OK);
    cosnet_labels_free(labels);

    /* The programs write their JSON with file_write_atomic_message. */
    char message[FILE_WRITE_MESSAGE_SIZE];
    snprintf(name, sizeof name, "results%s.json", suffix);
    path_in(path, sizeof path, name);
    assert_int_equal(
        file_write_atomic_message(path, "{}\n", 3, message, sizeof message),
        COSNET_OK);
}

static void assert_three_have_mode(const char *suffix, mode_t mode)
{
    const char *patterns[] = {"model%s.cosnet", "labels%s.txt",
                              "results%s.json"};
    for (size_t i = 0; i < 3; i++) {
        char name[64], path[600];
        snprintf(name, sizeof name, patterns[i], suffix);
        path_in(path, sizeof path, name);
        if (mode_of(path) != mode)
            fail_msg("%s has mode %04o, expected %04o", name,
                     (unsigned)mode_of(path), (unsigned)mode);
    }
}

static void test_mode_follows_umask(void **state)
{
    (void)state;
    mode_t saved = umask(022);
    write_three("-022");
    umask(077);
    write_three("-077");
    /* An old file's mode does not survive: the umask decides. */
    write_three("-022");
    umask(saved);
    assert_three_have_mode("-022", 0600);
    umask(022);
    write_three("-077");
    umask(saved);
    assert_three_have_mode("-077", 0644);
    umask(077);
    write_three("-fresh");
    umask(saved);
    assert_three_have_mode("-fresh", 0600);
    umask(022);
    write_three("-fresh2");
    umask(saved);
    assert_three_have_mode("-fresh2", 0644);
    assert_int_equal(entries_with(".cosnet-tmp."), 0);
    empty_folder();
}

static void test_symlink_kept_target_replaced(void **state)
{
    (void)state;
    char real[600], link[600], chain[600], sub[600], path[600];
    path_in(real, sizeof real, "real.txt");
    path_in(link, sizeof link, "link.txt");
    path_in(chain, sizeof chain, "chain.txt");
    put(real, "old");
    assert_int_equal(symlink("real.txt", link), 0); /* relative */
    assert_int_equal(symlink(link, chain), 0);      /* absolute, to a link */
    assert_int_equal(file_write_atomic(chain, "new", 3), COSNET_OK);
    struct stat info;
    assert_int_equal(lstat(link, &info), 0);
    assert_true(S_ISLNK(info.st_mode));
    assert_int_equal(lstat(chain, &info), 0);
    assert_true(S_ISLNK(info.st_mode));
    assert_int_equal(lstat(real, &info), 0);
    assert_true(S_ISREG(info.st_mode));
    assert_string_equal(contents(real), "new");
    assert_string_equal(contents(link), "new");
    /* The temporary went beside the target, and is gone. */
    assert_int_equal(entries_with(".cosnet-tmp."), 0);

    /* A relative link into a sub-folder: the temporary goes there. */
    path_in(sub, sizeof sub, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    path_in(path, sizeof path, "into-sub.txt");
    assert_int_equal(symlink("sub/inner.txt", path), 0); /* dangling */
    assert_int_equal(file_write_atomic(path, "created", 7), COSNET_OK);
    assert_int_equal(lstat(path, &info), 0);
    assert_true(S_ISLNK(info.st_mode));
    path_in(path, sizeof path, "sub/inner.txt");
    assert_string_equal(contents(path), "created");
    unlink(path);

    /* A loop of links is an IO error naming the path. */
    path_in(path, sizeof path, "loop-a");
    assert_int_equal(symlink("loop-b", path), 0);
    path_in(path, sizeof path, "loop-b");
    assert_int_equal(symlink("loop-a", path), 0);
    assert_int_equal(file_write_atomic(path, "x", 1), COSNET_ERROR_IO);
    assert_message_has(cosnet_last_error(), path);
    empty_folder();
}

static void test_fifo_written_into(void **state)
{
    (void)state;
    char path[600];
    path_in(path, sizeof path, "pipe");
    assert_int_equal(mkfifo(path, 0600), 0);
    /* A reader first, so that opening for writing does not wait. */
    int reader = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(reader >= 0);
    assert_int_equal(file_write_atomic(path, "through the pipe", 16),
                     COSNET_OK);
    char text[64] = "";
    ssize_t got = read(reader, text, sizeof text - 1);
    close(reader);
    assert_int_equal(got, 16);
    assert_memory_equal(text, "through the pipe", 16);
    struct stat info;
    assert_int_equal(lstat(path, &info), 0);
    assert_true(S_ISFIFO(info.st_mode)); /* not replaced */
    assert_int_equal(entries_with(""), 1);

    /* A link to the FIFO: written through, both kept. */
    char link[600];
    path_in(link, sizeof link, "pipe-link");
    assert_int_equal(symlink("pipe", link), 0);
    reader = open(path, O_RDONLY | O_NONBLOCK);
    assert_true(reader >= 0);
    assert_int_equal(file_write_atomic(link, "again", 5), COSNET_OK);
    got = read(reader, text, sizeof text - 1);
    close(reader);
    assert_int_equal(got, 5);
    assert_int_equal(lstat(link, &info), 0);
    assert_true(S_ISLNK(info.st_mode));
    assert_int_equal(lstat(path, &info), 0);
    assert_true(S_ISFIFO(info.st_mode));

    /* A character device (a private /dev/null; needs root to create). */
    path_in(path, sizeof path, "null-device");
    if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0) {
        assert_int_equal(file_write_atomic(path, "gone", 4), COSNET_OK);
        assert_int_equal(lstat(path, &info), 0);
        assert_true(S_ISCHR(info.st_mode));
    } else {
        print_message("(character device part skipped: mknod: %s)\n",
                      strerror(errno));
    }
    assert_int_equal(entries_with(".cosnet-tmp."), 0);
    empty_folder();
}

/* Checks, in the calling process, that a save into `unwritable` (a folder
 * this process may not write) fails with IO, a message naming the path and
 * the step, and leaves nothing. Returns 0 when all holds. */
static int check_unwritable(const char *unwritable)
{
    char path[600];
    snprintf(path, sizeof path, "%s/out.json", unwritable);
    char message[FILE_WRITE_MESSAGE_SIZE];
    cosnet_status status =
        file_write_atomic_message(path, "{}", 2, message, sizeof message);
    if (status != COSNET_ERROR_IO)
        return 1;
    if (!strstr(message, path) || !strstr(message, "cannot create") ||
        !strstr(message, strerror(EACCES)))
        return 2;
    if (access(path, F_OK) == 0)
        return 3;
    return 0;
}

static void test_unwritable_folder(void **state)
{
    (void)state;
    char locked[600], path[600];
    path_in(locked, sizeof locked, "locked");
    assert_int_equal(mkdir(locked, 0555), 0);
    assert_int_equal(chmod(locked, 0555), 0);
    if (geteuid() != 0) {
        assert_int_equal(check_unwritable(locked), 0);
    } else {
        /* root writes anywhere: check as nobody, in a child. */
        assert_int_equal(chmod(folder, 0755), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(10);
            _exit(check_unwritable(locked));
        }
        int status = 0;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_int_equal(chmod(folder, 0700), 0);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) != 0)
            fail_msg("as nobody: check %d failed", WEXITSTATUS(status));
    }
    assert_int_equal(rmdir(locked), 0);

    /* A folder that is a file, and one that does not exist. */
    path_in(path, sizeof path, "a-file");
    put(path, "x");
    path_in(path, sizeof path, "a-file/out.json");
    assert_int_equal(file_write_atomic(path, "{}", 2), COSNET_ERROR_IO);
    assert_message_has(cosnet_last_error(), path);
    assert_message_has(cosnet_last_error(), strerror(ENOTDIR));
    assert_message_has(cosnet_last_error(), "cannot reach the folder");
    path_in(path, sizeof path, "missing/out.json");
    assert_int_equal(file_write_atomic(path, "{}", 2), COSNET_ERROR_IO);
    assert_message_has(cosnet_last_error(), "cannot create temporary file");
    assert_message_has(cosnet_last_error(), strerror(ENOENT));

    /* A folder as the target: the rename fails, the temporary goes. */
    path_in(path, sizeof path, "a-folder");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(file_write_atomic(path, "{}", 2), COSNET_ERROR_IO);
    assert_message_has(cosnet_last_error(), "cannot rename temporary file");
    assert_int_equal(entries_with(".cosnet-tmp."), 0);

    /* Arguments. */
    char message[FILE_WRITE_MESSAGE_SIZE];
    assert_int_equal(
        file_write_atomic_message(NULL, "x", 1, message, sizeof message),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(
        file_write_atomic_message("", "x", 1, message, sizeof message),
        COSNET_ERROR_INVALID_ARGUMENT);
    assert_int_equal(file_write_atomic(path, NULL, 1),
                     COSNET_ERROR_INVALID_ARGUMENT);
    empty_folder();
}

static void test_write_failure_removes_temporary(void **state)
{
    (void)state;
    /* A file-size limit below the data's size makes write fail (EFBIG,
     * SIGXFSZ ignored): the old file stays, the temporary goes. */
    char path[600];
    path_in(path, sizeof path, "big.bin");
    put(path, "old content");
    static char data[8192];
    memset(data, 'x', sizeof data);
    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 100;
    void (*previous)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    cosnet_status status = file_write_atomic(path, data, sizeof data);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, previous);
    assert_int_equal(status, COSNET_ERROR_IO);
    assert_message_has(cosnet_last_error(), path);
    assert_message_has(cosnet_last_error(), "cannot write temporary file");
    assert_message_has(cosnet_last_error(), strerror(EFBIG));
    assert_string_equal(contents(path), "old content");
    assert_int_equal(entries_with(""), 1);
    empty_folder();
}

/* A process id that is not running: a child that has exited and been
 * reaped (its pid is free until reused, which is not immediate). */
static pid_t dead_pid(void)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(kill(child, 0), -1);
    assert_int_equal(errno, ESRCH);
    return child;
}

static void test_stale_temporaries_swept(void **state)
{
    (void)state;
    char path[600], name[128];
    pid_t dead = dead_pid();
    /* Of the target, dead process: must go (two of them). */
    snprintf(name, sizeof name, ".model.cosnet.cosnet-tmp.%d.0", (int)dead);
    path_in(path, sizeof path, name);
    put(path, "half");
    snprintf(name, sizeof name, ".model.cosnet.cosnet-tmp.%d.7", (int)dead);
    path_in(path, sizeof path, name);
    put(path, "half");
    /* Of the target, live process (init, and this one): must stay. */
    path_in(path, sizeof path, ".model.cosnet.cosnet-tmp.1.0");
    put(path, "live");
    snprintf(name, sizeof name, ".model.cosnet.cosnet-tmp.%d.99",
             (int)getpid());
    path_in(path, sizeof path, name);
    put(path, "mine");
    /* Of another target, dead process: not this save's business. */
    snprintf(name, sizeof name, ".other.cosnet.cosnet-tmp.%d.0", (int)dead);
    path_in(path, sizeof path, name);
    put(path, "other");
    /* Look-alikes that are not temporaries of ours. */
    path_in(path, sizeof path, ".model.cosnet.cosnet-tmp.x.0");
    put(path, "odd");

    path_in(path, sizeof path, "model.cosnet");
    assert_int_equal(file_write_atomic(path, "model", 5), COSNET_OK);
    assert_string_equal(contents(path), "model");
    assert_int_equal(entries_with(".model.cosnet.cosnet-tmp."), 3);
    snprintf(name, sizeof name, ".cosnet-tmp.%d.", (int)dead);
    assert_int_equal(entries_with(name), 1); /* only the other target's */
    path_in(path, sizeof path, ".model.cosnet.cosnet-tmp.1.0");
    assert_int_equal(access(path, F_OK), 0);
    empty_folder();
}

/* Threads saving the same file at once: every save succeeds and the file
 * is always one of them, whole. */
enum { writers = 4, rounds = 50, payload = 3000 };

static void *save_loop(void *argument)
{
    const char *path = argument;
    static char data[writers][payload];
    int me = -1;
    /* Each thread's data is its index repeated. */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int next;
    pthread_mutex_lock(&lock);
    me = next++;
    pthread_mutex_unlock(&lock);
    memset(data[me], 'a' + me, payload);
    for (int i = 0; i < rounds; i++)
        if (file_write_atomic(path, data[me], payload) != COSNET_OK)
            return (void *)1;
    return NULL;
}

static void test_concurrent_saves(void **state)
{
    (void)state;
    char path[600];
    path_in(path, sizeof path, "shared.bin");
    pthread_t threads[writers];
    for (int t = 0; t < writers; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, save_loop, path), 0);
    for (int t = 0; t < writers; t++) {
        void *result = NULL;
        assert_int_equal(pthread_join(threads[t], &result), 0);
        assert_null(result);
    }
    const char *text = contents(path);
    assert_int_equal(strlen(text), payload);
    for (size_t i = 1; i < payload; i++)
        assert_int_equal(text[i], text[0]);
    assert_int_equal(entries_with(""), 1);
    empty_folder();
}

/* The check programs run before long work: it writes nothing. */
static void test_check_before_writing(void **state)
{
    (void)state;
    char message[FILE_WRITE_MESSAGE_SIZE], path[600];
    path_in(path, sizeof path, "later.json");
    assert_int_equal(file_write_check_message(path, message, sizeof message),
                     COSNET_OK);
    assert_int_equal(entries_with(""), 0); /* nothing created, nothing left */
    put(path, "kept");
    assert_int_equal(file_write_check_message(path, message, sizeof message),
                     COSNET_OK);
    assert_string_equal(contents(path), "kept");

    path_in(path, sizeof path, "missing/later.json");
    assert_int_equal(file_write_check_message(path, message, sizeof message),
                     COSNET_ERROR_IO);
    assert_message_has(message, path);
    assert_message_has(message, strerror(ENOENT));
    path_in(path, sizeof path, "sub");
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(file_write_check_message(path, message, sizeof message),
                     COSNET_ERROR_IO);
    assert_message_has(message, "is a folder");

    /* A link is checked where its target is. */
    char link[600];
    path_in(link, sizeof link, "link.json");
    assert_int_equal(symlink("sub/inner.json", link), 0);
    assert_int_equal(file_write_check_message(link, message, sizeof message),
                     COSNET_OK);
    path_in(path, sizeof path, "sub");
    assert_int_equal(chmod(path, 0500), 0);
    if (geteuid() != 0) {
        assert_int_equal(
            file_write_check_message(link, message, sizeof message),
            COSNET_ERROR_IO);
        assert_message_has(message, strerror(EACCES));
    }
    assert_int_equal(chmod(path, 0700), 0);

    /* A FIFO: checked for write permission only (no reader needed). */
    path_in(path, sizeof path, "fifo");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(file_write_check_message(path, message, sizeof message),
                     COSNET_OK);
    assert_int_equal(entries_with(".cosnet-tmp."), 0);
    empty_folder();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writes_and_replaces),
        cmocka_unit_test(test_mode_follows_umask),
        cmocka_unit_test(test_symlink_kept_target_replaced),
        cmocka_unit_test(test_fifo_written_into),
        cmocka_unit_test(test_unwritable_folder),
        cmocka_unit_test(test_write_failure_removes_temporary),
        cmocka_unit_test(test_stale_temporaries_swept),
        cmocka_unit_test(test_concurrent_saves),
        cmocka_unit_test(test_check_before_writing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
