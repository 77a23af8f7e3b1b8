#define _GNU_SOURCE
#include "CPlatform.h"
#include <sys/socket.h>
#include <unistd.h>

/* Whether fd is an AF_UNIX stream socket. */
static int is_unix_stream(int fd) {
    int domain = 0, type = 0;
    socklen_t length = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) != 0 || domain != AF_UNIX) return 0;
    length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) return 0;
    return 1;
}

int csys_mosquitto_quiet_wakeup_pair(void *client) {
    /* libmosquitto 2.0's client struct starts with three descriptors: the connection's socket,
       then the read and write ends of the wake-up pair. Everything is checked before use. */
    const int *fds = client;
    int sock = fds[0], reader = fds[1], writer = fds[2];
    if (sock != -1 || reader < 0 || writer < 0 || reader == writer) return 0;
    if (!is_unix_stream(reader) || !is_unix_stream(writer)) return 0;
    /* They must be the two ends of one pair: a byte written to one arrives at the other. */
    const char probe = 0x5a;
    char back = 0;
    if (send(writer, &probe, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) return 0;
    if (recv(reader, &back, 1, MSG_DONTWAIT) != 1 || back != probe) return 0;
    /* libmosquitto skips the wake-up write when the write end is INVALID_SOCKET (-1), and
       closes only the ends that are not. */
    close(writer);
    ((int *)client)[2] = -1;
    return 1;
}
