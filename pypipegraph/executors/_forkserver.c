/* The zygote's fork-server loop, compiled: no Python runs in the zygote between forks.
 *
 * Invariant: while this loop runs, the zygote writes none of the pages it shares with its
 * children (only this loop's stack and the kernel's own state), so forking a child copies
 * page tables and nothing else, and a child's copy-on-write faults are its own. The
 * protocol is the pure-Python zygote's (zygote.py), byte for byte: the master sends
 * multiprocessing-framed messages (4-byte big-endian length, then the payload; an empty
 * one retires the zygote); one spare child is always forked ahead and waits for its
 * message on a pipe; a child leaves its encoded result in the result file and writes its
 * own pid (4 bytes) on the "done" pipe; the zygote then sends the result file to the
 * master (sendfile), or, when the child died without saying so, a pickled
 * ("died", pid, wait status). Each child is the leader of its own process group, so the
 * master kills a job and everything it started with one killpg. When the master dies
 * (its end of the pipe closes, or the parent-death signal arrives) the running child's
 * whole group is killed before the zygote exits.
 *
 * serve(...) returns the job's message (bytes) in a child, None in the zygote when it
 * is retired or its master is gone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_MESSAGE 64
#define MAX_EXITING 256

static volatile sig_atomic_t master_gone = 0;

static void on_master_death(int sig) { (void)sig; master_gone = 1; }

typedef struct {
    int conn, result, done_r, done_w, out, err;
    int64_t *slot;
    pid_t self;
    pid_t spare;
    int spare_fd;
    pid_t exiting[MAX_EXITING];
    int n_exiting;
} server;

static int read_full(int fd, void *buf, size_t size) {
    /* 1: read `size` bytes; 0: EOF (or master gone); -1: error */
    char *p = buf;
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, p + got, size - got);
        if (n > 0) { got += (size_t)n; continue; }
        if (n == 0) return 0;
        if (errno == EINTR) { if (master_gone) return 0; continue; }
        return -1;
    }
    return 1;
}

static int write_full(int fd, const void *buf, size_t size) {
    const char *p = buf;
    while (size) {
        ssize_t n = write(fd, p, size);
        if (n > 0) { p += n; size -= (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        return -1;
    }
    return 0;
}

static void reap(pid_t pid) {
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
}

static void reap_exited(server *s, int block) {
    int kept = 0;
    for (int i = 0; i < s->n_exiting; i++) {
        pid_t pid = s->exiting[i];
        if (block) reap(pid);
        else if (waitpid(pid, NULL, WNOHANG) == 0) s->exiting[kept++] = pid;
    }
    s->n_exiting = kept;
}

static void remember_exiting(server *s, pid_t pid) {
    if (s->n_exiting == MAX_EXITING) reap_exited(s, 1);
    s->exiting[s->n_exiting++] = pid;
}

static void empty_capture(int fd) {
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size) {
        if (ftruncate(fd, 0) == 0) lseek(fd, 0, SEEK_SET);
    }
}

/* Fork the spare child. Returns its pid in the zygote (-1 on failure); in the child,
 * returns 0 with *message set to the job's message (NULL: retired before it got one). */
static pid_t fork_spare(server *s, PyObject **message) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) { close(fds[0]); close(fds[1]); return -1; }
    if (pid > 0) {
        setpgid(pid, pid);  /* also done by the child: whichever runs first */
        close(fds[0]);
        s->spare_fd = fds[1];
        return pid;
    }
    /* the child: its own process group, killed with its zygote, default signals */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGTERM, &dfl, NULL);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != s->self) _exit(3);  /* the zygote died before the line above */
    close(s->conn);
    close(s->done_r);
    close(fds[1]);
    char buf[4 + MAX_MESSAGE];
    int32_t size;
    int got = read_full(fds[0], &size, 4);
    if (got != 1) _exit(0);  /* retired before it got a job */
    if (size < 0 || size > MAX_MESSAGE || read_full(fds[0], buf, (size_t)size) != 1) _exit(3);
    close(fds[0]);
    *message = PyBytes_FromStringAndSize(buf, size);
    if (*message == NULL) _exit(3);
    return 0;
}

static void retire_spare(server *s) {
    if (s->spare > 0) {
        close(s->spare_fd);  /* the spare reads EOF and exits */
        remember_exiting(s, s->spare);
        s->spare = 0;
    }
}

/* Send `size` bytes from the result file, framed as multiprocessing does. */
static int send_result(server *s, off_t size) {
    unsigned char header[12];
    size_t header_size;
    if (size <= 0x7fffffff) {
        uint32_t n = (uint32_t)size;
        header[0] = n >> 24; header[1] = n >> 16; header[2] = n >> 8; header[3] = n;
        header_size = 4;
    } else {
        uint64_t n = (uint64_t)size;
        memset(header, 0xff, 4);
        for (int i = 0; i < 8; i++) header[4 + i] = (unsigned char)(n >> (56 - 8 * i));
        header_size = 12;
    }
    if (write_full(s->conn, header, header_size) < 0) return -1;
    off_t offset = 0;
    while (offset < size) {
        ssize_t n = sendfile(s->conn, s->result, &offset, (size_t)(size - offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
    }
    return 0;
}

static void put_int32(unsigned char *p, int32_t v) {
    uint32_t u = (uint32_t)v;
    p[0] = u; p[1] = u >> 8; p[2] = u >> 16; p[3] = u >> 24;
}

/* pickle protocol 2 of ("died", pid, status), framed */
static int send_death(server *s, pid_t pid, int status) {
    unsigned char msg[4 + 32];
    unsigned char *p = msg + 4;
    size_t n = 0;
    p[n++] = 0x80; p[n++] = 2;                    /* PROTO 2 */
    p[n++] = 'X'; put_int32(p + n, 4); n += 4;    /* BINUNICODE "died" */
    memcpy(p + n, "died", 4); n += 4;
    p[n++] = 'J'; put_int32(p + n, pid); n += 4;  /* BININT pid */
    p[n++] = 'J'; put_int32(p + n, status); n += 4;
    p[n++] = 0x87;                                /* TUPLE3 */
    p[n++] = '.';                                 /* STOP */
    msg[0] = 0; msg[1] = 0; msg[2] = 0; msg[3] = (unsigned char)n;
    return write_full(s->conn, msg, 4 + n);
}

/* Whether child `pid` wrote its pid on the done pipe (reads what is there, without waiting). */
static int said_done(server *s, pid_t pid) {
    int32_t who;
    int done = 0;
    struct pollfd p = {s->done_r, POLLIN, 0};
    while (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
        if (read_full(s->done_r, &who, 4) != 1) break;
        if (who == pid) done = 1;  /* anything else came from a process that is not a job */
    }
    return done;
}

static void kill_group(pid_t pid) {
    if (killpg(pid, SIGKILL) < 0) kill(pid, SIGKILL);
}

/* Wait until child `pid` says it is done or dies. 1: done; 0: died (*status set);
 * -1: the master is gone (the child's group was killed and reaped). */
static int wait_for(server *s, pid_t pid, int *status) {
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int watch_conn = 1;
    for (;;) {
        struct pollfd fds[3] = {{s->done_r, POLLIN, 0}, {pidfd, POLLIN, 0}, {s->conn, POLLIN, 0}};
        int n_fds = pidfd >= 0 ? (watch_conn ? 3 : 2) : 1;
        if (pidfd < 0) {  /* no pidfd (Linux < 5.3): wait for the exit itself */
            if (master_gone) break;
            pid_t r = waitpid(pid, status, 0);
            if (r < 0 && errno == EINTR) continue;
            if (said_done(s, pid)) return 1;
            return 0;
        }
        if (master_gone) break;
        int r = poll(fds, (nfds_t)n_fds, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents && said_done(s, pid)) {
            close(pidfd);
            remember_exiting(s, pid);
            return 1;
        }
        if (fds[1].revents) {
            close(pidfd);
            if (said_done(s, pid)) {
                remember_exiting(s, pid);
                return 1;
            }
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
            return 0;
        }
        if (n_fds == 3 && fds[2].revents) {
            char c;
            ssize_t got = recv(s->conn, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) break;  /* master gone */
            watch_conn = 0;  /* a message for after this job */
        }
    }
    if (pidfd >= 0) close(pidfd);
    kill_group(pid);
    reap(pid);
    return -1;
}

static PyObject *serve(PyObject *module, PyObject *args) {
    (void)module;
    server s;
    Py_buffer slot;
    memset(&s, 0, sizeof s);
    if (!PyArg_ParseTuple(args, "iiiiiiw*", &s.conn, &s.result, &s.done_r, &s.done_w, &s.out, &s.err, &slot))
        return NULL;
    if (slot.len < 8) {
        PyBuffer_Release(&slot);
        PyErr_SetString(PyExc_ValueError, "the pid slot needs 8 bytes");
        return NULL;
    }
    s.slot = (int64_t *)slot.buf;
    s.self = getpid();
    struct sigaction gone;
    memset(&gone, 0, sizeof gone);
    gone.sa_handler = on_master_death;  /* no SA_RESTART: a blocked read or poll returns EINTR */
    sigemptyset(&gone.sa_mask);
    sigaction(SIGTERM, &gone, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) master_gone = 1;
    PyObject *message = NULL;
    while (!master_gone) {
        if (s.spare == 0) {
            pid_t pid = fork_spare(&s, &message);
            if (pid == 0) {
                PyBuffer_Release(&slot);
                return message;  /* in the child */
            }
            if (pid < 0) break;
            s.spare = pid;
        }
        uint32_t size_be;
        unsigned char buf[MAX_MESSAGE];
        if (read_full(s.conn, &size_be, 4) != 1) break;
        uint32_t size = ntohl(size_be);
        if (size == 0 || size > MAX_MESSAGE) break;  /* retired (or not a message of ours) */
        if (read_full(s.conn, buf, size) != 1) break;
        reap_exited(&s, 0);
        empty_capture(s.out);
        empty_capture(s.err);
        pid_t pid = s.spare;
        int fd = s.spare_fd;
        s.spare = 0;
        *s.slot = pid;
        int32_t framed = (int32_t)size;
        write_full(fd, &framed, 4);  /* a dead spare shows up as a death below */
        write_full(fd, buf, size);
        close(fd);
        pid_t next = fork_spare(&s, &message);  /* while the job runs */
        if (next == 0) {
            PyBuffer_Release(&slot);
            return message;
        }
        if (next > 0) s.spare = next;
        int status = 0;
        int outcome = wait_for(&s, pid, &status);
        *s.slot = 0;
        if (outcome < 0) break;
        struct stat st;
        off_t result_size = fstat(s.result, &st) == 0 ? st.st_size : 0;
        int sent;
        if (outcome == 1 && result_size > 0) sent = send_result(&s, result_size);
        else sent = send_death(&s, pid, status);
        if (result_size > 0) ftruncate(s.result, 0);
        if (sent < 0) break;
    }
    if (master_gone && s.spare > 0) kill(s.spare, SIGKILL);
    retire_spare(&s);
    reap_exited(&s, 1);
    PyBuffer_Release(&slot);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"serve", serve, METH_VARARGS,
     "serve(conn_fd, result_fd, done_r, done_w, out_fd, err_fd, pid_slot): run the zygote's loop.\n"
     "Returns the job's message (bytes) in a forked child, None in the zygote when it is retired."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_forkserver",
    .m_doc = "The zygote's compiled fork-server loop (see zygote.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__forkserver(void) { return PyModule_Create(&module); }
