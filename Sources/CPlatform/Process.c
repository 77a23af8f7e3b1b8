#define _GNU_SOURCE
#include "CPlatform.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t spawn_here(const char *path, char *const argv[], int output_fd) {
    pid_t parent = getpid();
    int errpipe[2];
    if (pipe2(errpipe, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(errpipe[0]);
        close(errpipe[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls from here on. */
        /* The forking thread's blocked signals and ignored ones (SIGPIPE) would survive exec. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(127);
        setpgid(0, 0); /* Ctrl-C in the terminal goes to us, and we stop the child in order. */
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) dup2(devnull, 0);
        int out = output_fd >= 0 ? output_fd : devnull;
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execv(path, argv);
        int e = errno;
        ssize_t ignored = write(errpipe[1], &e, sizeof e);
        (void)ignored;
        _exit(127);
    }
    close(errpipe[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(errpipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close(errpipe[0]);
    if (n == sizeof child_errno) {
        int status;
        waitpid(pid, &status, 0);
        errno = child_errno;
        return -1;
    }
    return pid;
}

/* PR_SET_PDEATHSIG fires when the *thread* that forked exits, not the process. Worker threads
 * come and go, so every fork happens on one service thread that lives as long as the process. */
static pthread_once_t service_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t service_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t service_cond = PTHREAD_COND_INITIALIZER;
static struct {
    const char *path;
    char *const *argv;
    int output_fd;
    int pending;
    int done;
    pid_t result;
    int error;
} request;

static void *service_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&service_lock);
    for (;;) {
        while (!request.pending) pthread_cond_wait(&service_cond, &service_lock);
        request.result = spawn_here(request.path, request.argv, request.output_fd);
        request.error = errno;
        request.pending = 0;
        request.done = 1;
        pthread_cond_broadcast(&service_cond);
    }
    return NULL;
}

static void service_start(void) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_create(&thread, &attributes, service_main, NULL);
    pthread_attr_destroy(&attributes);
}

pid_t cprocess_spawn(const char *path, char *const argv[], int output_fd) {
    pthread_once(&service_once, service_start);
    pthread_mutex_lock(&service_lock);
    while (request.pending || request.done) pthread_cond_wait(&service_cond, &service_lock);
    request.path = path;
    request.argv = argv;
    request.output_fd = output_fd;
    request.pending = 1;
    pthread_cond_broadcast(&service_cond);
    while (!request.done) pthread_cond_wait(&service_cond, &service_lock);
    pid_t result = request.result;
    int error = request.error;
    request.done = 0;
    pthread_cond_broadcast(&service_cond);
    pthread_mutex_unlock(&service_lock);
    errno = error;
    return result;
}

int csys_wait_exit(pid_t pid, int timeout_ms) {
    int status;
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno == ECHILD)) return 1;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n;
        do { n = poll(&p, 1, timeout_ms); } while (n < 0 && errno == EINTR);
        close(fd);
    } else {
        /* Kernels without pidfd: look again after the timeout. */
        struct timespec pause = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };
        nanosleep(&pause, NULL);
    }
    done = waitpid(pid, &status, WNOHANG);
    return done == pid || (done < 0 && errno == ECHILD);
}

#include <sys/resource.h>

long long cprocess_open_files(pid_t pid, long long files) {
    struct rlimit current;
    if (prlimit(pid, RLIMIT_NOFILE, NULL, &current) != 0) return -1;
    if (files > 0 && current.rlim_cur < (rlim_t)files) {
        struct rlimit wanted = { (rlim_t)files, current.rlim_max > (rlim_t)files ? current.rlim_max : (rlim_t)files };
        if (prlimit(pid, RLIMIT_NOFILE, &wanted, NULL) != 0) {
            wanted.rlim_cur = current.rlim_max;
            wanted.rlim_max = current.rlim_max;
            (void)prlimit(pid, RLIMIT_NOFILE, &wanted, NULL);
        }
        if (prlimit(pid, RLIMIT_NOFILE, NULL, &current) != 0) return -1;
    }
    return (long long)current.rlim_cur;
}
