#ifndef CSYSTEM_H
#define CSYSTEM_H
#include <stddef.h>
#include <sys/types.h>

/// Starts `path` with `argv` (NULL-terminated). The child's stdout and stderr go to
/// `output_fd` (or /dev/null when -1), its stdin is /dev/null, and it receives SIGTERM
/// when the parent process dies, so it never outlives us. Returns the pid, or -1 with errno.
pid_t cprocess_spawn(const char *path, char *const argv[], int output_fd);

/// Raises process `pid`'s limit on open files (0: the calling process) to at least `files`
/// (its hard limit too where the caller may; else as far as the hard limit). Returns the soft
/// limit now, or -1.
long long cprocess_open_files(pid_t pid, long long files);

/* Waits up to timeout_ms for the child to exit and reaps it: 1 when it has, 0 when it still
   runs. Uses a pidfd where the kernel has them. */
int csys_wait_exit(pid_t pid, int timeout_ms);

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

/// epoll without its packed struct, which Swift cannot import cleanly.
int csys_epoll_create(void);
int csys_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits like epoll_wait and unpacks up to `max` events into two parallel arrays.
int csys_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms);

/// Makes stdout line-buffered, so progress shows at once when it is a pipe or a file.
void csys_line_buffer_stdout(void);

/// Bytes the C allocator has handed out and not taken back (small chunks and mmapped blocks).
size_t csys_heap_bytes(void);

/* libmosquitto writes a byte to an internal socket pair on every publish, to wake a thread
   sleeping in mosquitto_loop(). A client driven by its own epoll loop never sleeps there, so
   each byte only costs a write system call (about a tenth of a publish's CPU time). Given a
   fresh, unconnected client, this finds the pair, checks that it is one (both AF_UNIX stream
   sockets, a probe byte crosses from one to the other), closes the write end and marks it
   absent (-1), which libmosquitto checks before every wake-up write.
   Returns 1 when done, 0 when anything did not match (then nothing was changed). */
int csys_mosquitto_quiet_wakeup_pair(void *client);

#endif
