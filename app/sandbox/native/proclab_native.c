/* ProcLab's native shim: LD_PRELOADed into every dynamically linked program of a run.
 *
 * It speaks the Python shim's protocol (JSON over the SOCK_SEQPACKET socket named in PROCLAB_SHIM;
 * the supervisor takes the pid from SO_PEERCRED) and reports:
 *  - identity, before main runs: hello with the real ppid, the true argv (/proc/self/cmdline) and exe,
 *    so even a process that lives 1 ms gets proc.spawn and proc.exec;
 *  - output ownership: when fd 1/2 are ProcLab output pipes of another process, this process gets its own
 *    (the supervisor decides, it knows its pipes), so `ls` run by os.system() is credited to `ls`;
 *  - C calls made by the program's own code (the main executable), with the return address as an offset
 *    into it (the supervisor turns it into file:line): fork, vfork, exec*, wait*, pipe*, dup*, kill,
 *    signal/sigaction, mkfifo, open/read/write/close on pipes, FIFOs and sockets, pthread_create and
 *    pthread mutexes; and the exit status (proc.exiting).
 * In a Python interpreter it only says hello: the Python shim reports the Python calls and the output.
 *
 * Rules: never change errno or what the program sees; the socket lives on a high fd (the program's first
 * pipe() is 3, 4); never block forever if the supervisor is gone; only async-signal-safe calls after
 * fork and in signal handlers (no malloc, no stdio: messages are built in stack buffers).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))
#define HIGH_FD 200
#define PREVIEW 48
#define OPS_PER_OBJECT 500
#define MSG_MAX 8192

enum mode { MODE_NORMAL, MODE_STEP, MODE_SLOW };

static int g_fd = -1;            /* connection to the supervisor, owned by g_pid */
static pid_t g_pid;
static int g_on;                 /* connected and reporting identity */
static int g_trace;              /* report C calls (not in Python: its shim does) */
static int g_student;            /* the program lives in the run directory: its handlers, threads and locks too */
static volatile int g_mode = MODE_NORMAL;
static uintptr_t g_lo, g_hi, g_base; /* the main executable's mapped range and load base */
static ino_t g_out_ino[2];       /* this process's own output pipes: writes there are output, not IPC */
static char g_sock_path[108];
static ino_t g_sock_ino;        /* our socket's inode: an fd the program reused is never written to */
static volatile int g_lock;      /* one message (and its go) at a time on the socket */
static TLS int t_busy;           /* inside the shim on this thread: nested calls are not reported */

/* ------------------------------------------------------------ real functions */

#define REAL(name) static __typeof__(name) *real_##name
REAL(fork); REAL(execve); REAL(execvp); REAL(execvpe); REAL(waitpid); REAL(wait); REAL(wait3); REAL(wait4);
REAL(waitid); REAL(pipe); REAL(pipe2); REAL(dup); REAL(dup2); REAL(dup3); REAL(kill); REAL(killpg);
REAL(raise); REAL(sigqueue); REAL(signal); REAL(sigaction); REAL(mkfifo); REAL(read); REAL(write);
REAL(close); REAL(pthread_create); REAL(pthread_mutex_lock); REAL(pthread_mutex_unlock); REAL(_exit);
static int (*real_open)(const char *, int, ...);
__attribute__((visibility("hidden"), used)) pid_t (*proclab_real_vfork)(void);

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

static void resolve_all(void) {
#define R(name) real_##name = next(#name)
    R(fork); R(execve); R(execvp); R(execvpe); R(waitpid); R(wait); R(wait3); R(wait4); R(waitid); R(pipe);
    R(pipe2); R(dup); R(dup2); R(dup3); R(kill); R(killpg); R(raise); R(sigqueue); R(signal); R(sigaction);
    R(mkfifo); R(read); R(write); R(close); R(pthread_create); R(pthread_mutex_lock); R(pthread_mutex_unlock);
    R(_exit); R(open);
    proclab_real_vfork = next("vfork");
#undef R
}

/* ------------------------------------------------------------ JSON in a stack buffer */

typedef struct { char b[MSG_MAX]; size_t n; int first; } msg_t;

static void m_raw(msg_t *m, const char *s, size_t len) {
    if (m->n + len >= sizeof m->b - 2) len = sizeof m->b - 2 - m->n;
    memcpy(m->b + m->n, s, len);
    m->n += len;
}
static void m_s(msg_t *m, const char *s) { m_raw(m, s, strlen(s)); }

static void m_key(msg_t *m, const char *key) {
    if (!m->first) m_s(m, ",");
    m->first = 0;
    m_s(m, "\"");
    m_s(m, key);
    m_s(m, "\":");
}

static void m_uint(msg_t *m, unsigned long long v) {
    char tmp[24];
    int i = 24;
    do { tmp[--i] = (char)('0' + v % 10); v /= 10; } while (v && i);
    m_raw(m, tmp + i, (size_t)(24 - i));
}

static void m_int(msg_t *m, long long v) {
    if (v < 0) { m_s(m, "-"); m_uint(m, (unsigned long long)(-(v + 1)) + 1); }
    else m_uint(m, (unsigned long long)v);
}

/* A JSON string of len bytes: valid UTF-8 is kept, anything else becomes U+FFFD, as Python's "replace". */
static void m_strn(msg_t *m, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    m_s(m, "\"");
    for (size_t i = 0; i < len && m->n < sizeof m->b - 16;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; m_raw(m, e, 2); i++; }
        else if (c < 0x20) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            m_raw(m, e, 6); i++;
        } else if (c < 0x80) { m_raw(m, (const char *)p + i, 1); i++; }
        else {
            size_t need = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
            size_t k = 1;
            while (need && k < need && i + k < len && (p[i + k] & 0xc0) == 0x80) k++;
            if (need && k == need) { m_raw(m, (const char *)p + i, need); i += need; }
            else { m_s(m, "\xef\xbf\xbd"); i += k; }
        }
    }
    m_s(m, "\"");
}
static void m_str(msg_t *m, const char *s) { m_strn(m, s ? s : "", s ? strlen(s) : 0); }

static void m_begin(msg_t *m, const char *type) {
    m->n = 0;
    m->first = 1;
    m_s(m, "{");
    m_key(m, "type");
    m_str(m, type);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe, vDSO */
    m_key(m, "t");
    m_int(m, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}
static void m_kint(msg_t *m, const char *k, long long v) { m_key(m, k); m_int(m, v); }
static void m_kstr(msg_t *m, const char *k, const char *v) { m_key(m, k); m_str(m, v); }
static void m_end(msg_t *m) { m_s(m, "}"); m->b[m->n] = 0; }

/* ------------------------------------------------------------ the socket */

/* Another thread may hold the socket for a long time (a paced call waits for the user's step): yield a
 * little, then sleep, rather than burn the run's CPU time. */
static void lock(void) {
    for (int i = 0; __atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE); i++) {
        if (i < 64) sched_yield();
        else { struct timespec ts = {0, 1000000}; nanosleep(&ts, NULL); }
    }
}
static void unlock(void) { __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE); }

/* The value after "key": in a reply (JSON with or without spaces), or NULL. */
static const char *json_value(const char *buf, const char *key) {
    const char *p = strstr(buf, key);
    if (!p) return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == ':') p++;
    return p;
}

static void apply_control(const char *buf) {
    const char *v = json_value(buf, "\"mode\"");
    if (!v) return;
    if (!strncmp(v, "\"step\"", 6)) g_mode = MODE_STEP;
    else if (!strncmp(v, "\"slow\"", 6)) g_mode = MODE_SLOW;
    else g_mode = MODE_NORMAL; /* normal, or paused (done with SIGSTOP by the supervisor) */
}

static void poll_mode(void) {
    char buf[512];
    for (;;) {
        ssize_t n = recv(g_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n <= 0) return;
        buf[n] = 0;
        apply_control(buf);
    }
}

/* Wait for a reply containing `want` (the go of a paced call, the answer to hello); mode changes are applied
 * on the way. timeout_ms < 0: as long as the supervisor lives (a paced step waits for the user). */
static int await_reply(const char *want, char *out, size_t outlen, int timeout_ms) {
    char buf[512];
    for (;;) {
        struct pollfd p = {g_fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        ssize_t n = recv(g_fd, buf, sizeof buf - 1, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { g_mode = MODE_NORMAL; return -1; } /* the supervisor is gone: never wait again */
        buf[n] = 0;
        apply_control(buf);
        if (strstr(buf, want)) {
            if (out) { size_t k = (size_t)n < outlen - 1 ? (size_t)n : outlen - 1; memcpy(out, buf, k); out[k] = 0; }
            return 0;
        }
        if (!strcmp(want, "\"go\"") && g_mode == MODE_NORMAL) return 0;
    }
}

/* Send one message; paced (step/slow) messages wait for the supervisor's go. Callers keep errno. */
static void send_msg(msg_t *m, int paced, const int *fds, int nfds) {
    if (!g_on || g_fd < 0 || g_pid != (pid_t)syscall(SYS_getpid)) return;
    struct stat st;
    if (fstat(g_fd, &st) < 0 || st.st_ino != g_sock_ino || !S_ISSOCK(st.st_mode)) { g_on = 0; return; }
    int busy = t_busy;
    t_busy = 1; /* a signal handler's report while we hold the socket would wait for us forever: it skips */
    lock();
    poll_mode();
    int sync = paced && g_mode != MODE_NORMAL;
    if (sync) { m->n--; m_s(m, ",\"sync\":true}"); }
    struct iovec iov = {m->b, m->n};
    struct msghdr h = {0};
    char cbuf[CMSG_SPACE(sizeof(int) * 4)];
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    if (nfds > 0) {
        memset(cbuf, 0, sizeof cbuf);
        h.msg_control = cbuf;
        h.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t r;
    do r = sendmsg(g_fd, &h, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
    if (r >= 0 && sync) await_reply("\"go\"", NULL, 0, -1);
    unlock();
    t_busy = busy;
}

/* Connect to the supervisor and keep the socket on a high fd, below the fd limit. */
static int connect_shim(void) {
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, g_sock_path, sizeof a.sun_path - 1);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) { syscall(SYS_close, s); return -1; }
    struct rlimit rl;
    long top = HIGH_FD;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur <= HIGH_FD + 8)
        top = (long)rl.rlim_cur > 16 ? (long)rl.rlim_cur - 8 : s;
    if (top > s) {
        int h = fcntl(s, F_DUPFD_CLOEXEC, (int)top);
        if (h >= 0) { syscall(SYS_close, s); s = h; }
    }
    struct stat st;
    g_sock_ino = fstat(s, &st) == 0 ? st.st_ino : 0;
    return s;
}

/* ------------------------------------------------------------ where a call came from */

static int from_main(void *ra) { return (uintptr_t)ra >= g_lo && (uintptr_t)ra < g_hi; }

static void m_pc(msg_t *m, void *ra) {
    /* The return address points after the call: one byte back is inside the call instruction. */
    m_key(m, "pc");
    m_int(m, (long long)((uintptr_t)ra - g_base - 1));
}

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size; (void)data;
    g_base = info->dlpi_addr;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo) lo = a;
        if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
    }
    g_lo = lo;
    g_hi = hi;
    return 1; /* the first object is the main program */
}

/* Report this call? Only calls the program's own code made, outside the shim, on a traced process. */
#define ENTER(ra) (g_trace && !t_busy && from_main(ra))
/* Signal handlers, threads and mutexes: only the student's own programs (a shell's are not the lesson). */
#define ENTER_STUDENT(ra) (g_student && ENTER(ra))

/* ------------------------------------------------------------ fds */

/* Regular files a program of the run directory opened with open() in its directory or /tmp: `file` channels
 * (the notes' file IPC), as the Python shim's. fd -> inode, checked against fstat (fd numbers are reused). */
#define MAX_FILES 64
static struct { int fd; ino_t ino; } g_files[MAX_FILES];
static int g_nfiles;
static int is_file_fd(int fd, ino_t ino) {
    for (int i = 0; i < g_nfiles; i++)
        if (g_files[i].fd == fd) return g_files[i].ino == ino;
    return 0;
}
static void note_file_fd(int fd, ino_t ino) {
    for (int i = 0; i < g_nfiles; i++)
        if (g_files[i].fd == fd) { g_files[i].ino = ino; return; }
    if (g_nfiles < MAX_FILES) { g_files[g_nfiles].fd = fd; g_files[g_nfiles].ino = ino; g_nfiles++; }
}
static void forget_file_fd(int fd) {
    for (int i = 0; i < g_nfiles; i++)
        if (g_files[i].fd == fd) { g_files[i] = g_files[--g_nfiles]; return; }
}

/* 0 none, 1 pipe, 2 fifo, 3 socket, 4 file (ProcLab's own output pipes are none). */
static int fd_kind_(int fd, ino_t *ino);
static int fd_kind(int fd, ino_t *ino) {
    int saved = errno; /* looking must not change what the program's own call reports */
    int k = fd_kind_(fd, ino);
    errno = saved;
    return k;
}
static int fd_kind_(int fd, ino_t *ino) {
    struct stat st;
    if (fstat(fd, &st) < 0) return 0;
    *ino = st.st_ino;
    if (S_ISFIFO(st.st_mode)) {
        if (st.st_ino == g_out_ino[0] || st.st_ino == g_out_ino[1]) return 0;
        char path[32], link[16];
        char *p = path;
        memcpy(p, "/proc/self/fd/", 14);
        p += 14;
        msg_t tmp; tmp.n = 0; tmp.first = 1; m_uint(&tmp, (unsigned)fd); tmp.b[tmp.n] = 0;
        memcpy(p, tmp.b, tmp.n + 1);
        ssize_t n = readlink(path, link, sizeof link);
        return n >= 5 && !memcmp(link, "pipe:", 5) ? 1 : 2;
    }
    if (S_ISSOCK(st.st_mode)) return fd == g_fd ? 0 : 3;
    if (S_ISREG(st.st_mode) && is_file_fd(fd, st.st_ino)) return 4;
    return 0;
}

static const char *kind_name(int k) {
    return k == 1 ? "pipe" : k == 2 ? "fifo" : k == 3 ? "socket" : k == 4 ? "file" : "";
}

/* A path in the run directory (relative: the program's cwd is it) or /tmp, as the Python shim's rule. */
static int shared_path(const char *path) {
    if (!path || !*path) return 0;
    if (path[0] != '/') return 1;
    const char *run_dir = getenv("PROCLAB_RUN_DIR");
    size_t n = run_dir ? strlen(run_dir) : 0;
    return !strncmp(path, "/tmp/", 5) || (n && !strncmp(path, run_dir, n) && path[n] == '/');
}

/* After OPS_PER_OBJECT operations on one object, stop reporting it (once saying so), as the Python shim. */
static struct { uintptr_t key; int n; } g_ops[64];
static int over_budget(uintptr_t key, const char *kind) {
    unsigned h = (unsigned)((key * 2654435761u) >> 4) % 64;
    for (int i = 0; i < 64; i++) {
        unsigned j = (h + (unsigned)i) % 64;
        if (g_ops[j].key == key || g_ops[j].key == 0) {
            g_ops[j].key = key;
            int n = ++g_ops[j].n;
            if (n == OPS_PER_OBJECT + 1) {
                msg_t m; m_begin(&m, "ipc.op"); m_kstr(&m, "kind", kind);
                if (!strcmp(kind, "lock")) { char obj[40] = "mutex:"; msg_t t; t.n = 0; m_uint(&t, key);
                    memcpy(obj + 6, t.b, t.n); obj[6 + t.n] = 0; m_kstr(&m, "obj", obj); }
                else m_kint(&m, "ino", (long long)key);
                m_kstr(&m, "op", "more"); m_kstr(&m, "value", "after 500 operations, the rest are not shown");
                m_end(&m); send_msg(&m, 0, NULL, 0);
            }
            return n > OPS_PER_OBJECT;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ signals */

static const char *const SIGNAMES[] = {
    [SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL", [SIGTRAP] = "SIGTRAP",
    [SIGABRT] = "SIGABRT", [SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE", [SIGKILL] = "SIGKILL",
    [SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2", [SIGPIPE] = "SIGPIPE",
    [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM", [SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD",
    [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
    [SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
    [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO",
    [SIGPWR] = "SIGPWR", [SIGSYS] = "SIGSYS",
};

static void m_signal(msg_t *m, int sig) {
    m_key(m, "signal");
    if (sig > 0 && sig < (int)(sizeof SIGNAMES / sizeof *SIGNAMES) && SIGNAMES[sig]) m_str(m, SIGNAMES[sig]);
    else {
        char b[24] = "signal ";
        msg_t t; t.n = 0; m_int(&t, sig); memcpy(b + 7, t.b, t.n); b[7 + t.n] = 0;
        m_str(m, b);
    }
}

/* The program's handlers run behind a trampoline that reports signal.handled first. */
static struct sigaction g_user[65];
static unsigned char g_wrapped[65];

static void trampoline(int sig, siginfo_t *info, void *ctx) {
    int saved = errno;
    if (!t_busy && g_on) {
        msg_t m; m_begin(&m, "signal.handled"); m_signal(&m, sig); m_kstr(&m, "action", "handler"); m_end(&m);
        t_busy = 1;
        send_msg(&m, 0, NULL, 0);
        t_busy = 0;
    }
    errno = saved;
    struct sigaction *u = &g_user[sig];
    if (u->sa_flags & SA_SIGINFO) u->sa_sigaction(sig, info, ctx);
    else if (u->sa_handler != SIG_DFL && u->sa_handler != SIG_IGN) u->sa_handler(sig);
}

static void handler_name(void (*h)(int), char *out, size_t len) {
    if (h == SIG_IGN) { strncpy(out, "SIG_IGN", len); return; }
    if (h == SIG_DFL) { strncpy(out, "SIG_DFL", len); return; }
    Dl_info di;
    if (dladdr((void *)h, &di) && di.dli_sname) strncpy(out, di.dli_sname, len - 1);
    else strncpy(out, "handler", len);
    out[len - 1] = 0;
}

/* ------------------------------------------------------------ hello and output */

static void own_output(const int own[2]) {
    int rfds[2], n = 0;
    const char *names[2];
    for (int i = 0; i < 2; i++) {
        if (!own[i]) continue;
        int p[2];
        if (syscall(SYS_pipe2, p, O_CLOEXEC) < 0) continue;
        syscall(SYS_dup3, p[1], i + 1, 0); /* dup2 without the syscall aarch64 lacks */
        syscall(SYS_close, p[1]);
        struct stat st;
        if (fstat(i + 1, &st) == 0) g_out_ino[i] = st.st_ino;
        rfds[n] = p[0];
        names[n++] = i == 0 ? "stdout" : "stderr";
    }
    if (!n) return;
    msg_t m; m_begin(&m, "hello.output"); m_key(&m, "streams"); m_s(&m, "[");
    for (int i = 0; i < n; i++) { if (i) m_s(&m, ","); m_str(&m, names[i]); }
    m_s(&m, "]"); m_end(&m);
    send_msg(&m, 0, rfds, n);
    for (int i = 0; i < n; i++) syscall(SYS_close, rfds[i]);
}

static void m_out_inodes(msg_t *m) {
    m_key(m, "out");
    m_s(m, "[");
    for (int fd = 1; fd <= 2; fd++) {
        struct stat st;
        if (fd == 2) m_s(m, ",");
        m_int(m, fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) ? (long long)st.st_ino : 0);
    }
    m_s(m, "]");
}

/* Ask the supervisor which of fd 1/2 are another process's ProcLab pipes, and take our own for those. */
static void settle_output(msg_t *hello) {
    int saved = errno;
    send_msg(hello, 0, NULL, 0);
    char reply[512];
    if (await_reply("\"own\"", reply, sizeof reply, 3000) == 0) {
        const char *o = json_value(reply, "\"own\"");
        int own[2] = {0, 0};
        if (o && *o == '[') {
            o++;
            while (*o == ' ') o++;
            own[0] = !strncmp(o, "true", 4);
            const char *c = strchr(o, ',');
            while (c && *++c == ' ') {}
            own[1] = c && !strncmp(c, "true", 4);
        }
        if (g_trace) own_output(own);
    }
    errno = saved;
}

static void m_sock_ino(msg_t *m) {
    struct stat st;
    if (fstat(g_fd, &st) == 0) m_kint(m, "sock_ino", (long long)st.st_ino);
}

/* In a fork child: a connection of our own, then hello (the parent's fork report may still be in flight). */
static void child_hello(const char *how, void *ra) {
    int saved = errno;
    g_pid = (pid_t)syscall(SYS_getpid);
    g_lock = 0;
    if (g_fd >= 0) syscall(SYS_close, g_fd); /* the parent's connection: our copy only */
    g_fd = connect_shim();
    if (g_fd < 0) { g_on = 0; errno = saved; return; }
    g_on = 1;
    msg_t m; m_begin(&m, "hello"); m_kstr(&m, "how", how); m_key(&m, "native"); m_s(&m, "true");
    m_kint(&m, "ppid", (long long)syscall(SYS_getppid)); m_sock_ino(&m);
    if (ra && from_main(ra)) m_pc(&m, ra);
    m_out_inodes(&m); m_end(&m);
    settle_output(&m);
    errno = saved;
}

__attribute__((constructor)) static void proclab_init(void) {
    int saved = errno;
    resolve_all();
    const char *path = getenv("PROCLAB_SHIM");
    if (!path || !*path || strlen(path) >= sizeof g_sock_path) return;
    strncpy(g_sock_path, path, sizeof g_sock_path - 1);
    dl_iterate_phdr(phdr_cb, NULL);
    int python = dlsym(RTLD_DEFAULT, "Py_IsInitialized") != NULL;
    char exe[1024];
    ssize_t e = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[e > 0 ? e : 0] = 0;
    g_pid = (pid_t)syscall(SYS_getpid);
    g_fd = connect_shim();
    if (g_fd < 0) { errno = saved; return; }
    g_on = 1;
    g_trace = !python;
    const char *run_dir = getenv("PROCLAB_RUN_DIR");
    g_student = run_dir && *run_dir && !strncmp(exe, run_dir, strlen(run_dir));
    const char *pace = getenv("PROCLAB_PACE");
    if (pace && !strcmp(pace, "step")) g_mode = MODE_STEP;
    else if (pace && !strcmp(pace, "slow")) g_mode = MODE_SLOW;
    /* The true argv: what the kernel was given, never rebuilt. */
    static char cmd[4096];
    ssize_t n = 0;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) { n = (ssize_t)syscall(SYS_read, fd, cmd, sizeof cmd - 1); syscall(SYS_close, fd); }
    if (n < 0) n = 0;
    msg_t m; m_begin(&m, "hello"); m_kstr(&m, "how", "exec"); m_key(&m, "native"); m_s(&m, "true");
    m_kint(&m, "ppid", (long long)getppid()); m_kstr(&m, "exe", exe);
    m_key(&m, "python"); m_s(&m, python ? "true" : "false");
    m_key(&m, "argv"); m_s(&m, "[");
    for (ssize_t i = 0, k = 0; i < n && k < 64; k++) {
        size_t len = strnlen(cmd + i, (size_t)(n - i));
        if (k) m_s(&m, ",");
        m_strn(&m, cmd + i, len > 256 ? 256 : len);
        i += (ssize_t)len + 1;
    }
    m_s(&m, "]"); m_sock_ino(&m); m_out_inodes(&m); m_end(&m);
    settle_output(&m);
    if (python) {
        /* The Python shim takes over from here with its own connection. */
        syscall(SYS_close, g_fd);
        g_fd = -1;
        g_on = 0;
    } else {
        const char *stdio = getenv("PROCLAB_STDIO");
        if (!stdio || strcmp(stdio, "pipe")) setvbuf(stdout, NULL, _IOLBF, 0); /* as on a terminal */
    }
    errno = saved;
}

static void report_exit(int code) {
    if (!g_on || t_busy) return;
    int saved = errno;
    msg_t m; m_begin(&m, "proc.exiting"); m_kint(&m, "code", code & 0xff); m_end(&m);
    send_msg(&m, 0, NULL, 0);
    errno = saved;
}

/* The exit status is known before the parent can reap: exit() from the program, _exit(), and main's
 * return (glibc calls exit() internally then, so main itself is wrapped through __libc_start_main). */
typedef int (*main_fn)(int, char **, char **);
static main_fn g_main;
static int main_wrapper(int argc, char **argv, char **envp) {
    int r = g_main(argc, argv, envp);
    report_exit(r);
    return r;
}
EXPORT int __libc_start_main(main_fn main, int argc, char **argv, void (*init)(void), void (*fini)(void),
                             void (*rtld_fini)(void), void *stack_end) {
    int (*real)(main_fn, int, char **, void (*)(void), void (*)(void), void (*)(void), void *) =
        next("__libc_start_main");
    g_main = main;
    return real(main_wrapper, argc, argv, init, fini, rtld_fini, stack_end);
}
EXPORT void exit(int code) {
    static void (*real_exit)(int) __attribute__((noreturn));
    if (!real_exit) real_exit = next("exit");
    report_exit(code);
    real_exit(code);
}
EXPORT void _exit(int code) {
    report_exit(code);
    if (!real__exit) real__exit = next("_exit");
    real__exit(code);
    __builtin_unreachable();
}

/* ------------------------------------------------------------ processes */

/* A fork refused for lack of processes is the run's process limit (the cgroup's pids.max or
 * RLIMIT_NPROC): said once per process, so a fork bomb's millions of failures cost one message each. */
static int g_limit_told;
static void tell_process_limit(const char *detail) {
    if (g_limit_told) return;
    g_limit_told = 1;
    int saved = errno;
    msg_t m; m_begin(&m, "limit.hit"); m_kstr(&m, "what", "processes"); m_kstr(&m, "detail", detail); m_end(&m);
    t_busy = 1; send_msg(&m, 0, NULL, 0); t_busy = 0;
    errno = saved;
}

EXPORT pid_t fork(void) {
    void *ra = __builtin_return_address(0);
    int traced = ENTER(ra);
    if (traced) {
        msg_t m; m_begin(&m, "proc.fork.begin"); m_kstr(&m, "call", "fork"); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    }
    pid_t pid = real_fork();
    if (pid < 0 && errno == EAGAIN && g_on) {
        tell_process_limit("fork() failed: Resource temporarily unavailable");
    } else if (pid == 0) {
        if (g_on) child_hello("fork", ra);
    } else if (pid > 0 && traced) {
        int saved = errno;
        msg_t m; m_begin(&m, "proc.fork"); m_kint(&m, "child", pid); m_kstr(&m, "call", "fork");
        m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 0, NULL, 0); t_busy = 0;
        errno = saved;
    }
    return pid;
}

/* vfork: the child borrows the parent's stack, so no wrapper may return in it. The parent says where the
 * call is, then jumps to the real vfork with the caller's own frame; the child's hello (at its exec) names
 * its parent, and the supervisor gives it the vfork's line. */
__attribute__((visibility("hidden"), used)) void proclab_vfork_begin(void *ra) {
    if (!ENTER(ra)) return;
    int saved = errno;
    msg_t m; m_begin(&m, "proc.fork.begin"); m_kstr(&m, "call", "vfork"); m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    errno = saved;
}
#if defined(__x86_64__)
__asm__(".text\n.globl vfork\n.type vfork,@function\nvfork:\n"
        "  sub $8, %rsp\n  mov 8(%rsp), %rdi\n  call proclab_vfork_begin\n  add $8, %rsp\n"
        "  mov proclab_real_vfork(%rip), %rax\n  test %rax, %rax\n  jz 1f\n  jmp *%rax\n"
        "1:\n  mov $58, %eax\n  pop %rdx\n  syscall\n  push %rdx\n  ret\n"
        ".size vfork, .-vfork\n");
#endif

static void exec_report(const char *call, const char *path, char *const argv[], void *ra) {
    if (!ENTER(ra)) return;
    int saved = errno;
    msg_t m; m_begin(&m, "proc.exec"); m_kstr(&m, "call", call); m_kstr(&m, "path", path);
    m_key(&m, "argv"); m_s(&m, "[");
    for (int i = 0; argv && argv[i] && i < 64; i++) { if (i) m_s(&m, ","); m_str(&m, argv[i]); }
    m_s(&m, "]"); m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    fflush(stdout); /* a line-buffered stdout holds nothing, but a program's own buffering might */
    errno = saved;
}

static void exec_failed(void *ra) {
    if (!ENTER(ra)) return;
    int saved = errno;
    const char *name = strerrorname_np(saved); /* "ENOENT": the UI words it (catalogue errno.*) */
    msg_t m; m_begin(&m, "proc.exec.failed"); m_kint(&m, "errno", saved); m_kstr(&m, "error", name ? name : "");
    m_end(&m);
    t_busy = 1; send_msg(&m, 0, NULL, 0); t_busy = 0;
    errno = saved;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    void *ra = __builtin_return_address(0);
    exec_report("execve", path, argv, ra);
    int r = real_execve(path, argv, envp);
    exec_failed(ra);
    return r;
}
EXPORT int execv(const char *path, char *const argv[]) {
    void *ra = __builtin_return_address(0);
    exec_report("execv", path, argv, ra);
    int r = real_execve(path, argv, environ);
    exec_failed(ra);
    return r;
}
EXPORT int execvp(const char *file, char *const argv[]) {
    void *ra = __builtin_return_address(0);
    exec_report("execvp", file, argv, ra);
    int r = real_execvp(file, argv);
    exec_failed(ra);
    return r;
}
EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    void *ra = __builtin_return_address(0);
    exec_report("execvpe", file, argv, ra);
    int r = real_execvpe(file, argv, envp);
    exec_failed(ra);
    return r;
}

#define COLLECT_ARGS(first, av, want_envp, envp)                           \
    char *av[256];                                                         \
    {                                                                      \
        va_list ap; va_start(ap, first); int i = 0; av[i++] = (char *)first; \
        while (i < 255 && (av[i] = va_arg(ap, char *)) != NULL) i++;       \
        av[i] = NULL;                                                      \
        if (want_envp) envp = va_arg(ap, char **);                         \
        va_end(ap);                                                        \
    }

EXPORT int execl(const char *path, const char *arg, ...) {
    void *ra = __builtin_return_address(0);
    char **envp = environ;
    COLLECT_ARGS(arg, av, 0, envp);
    exec_report("execl", path, av, ra);
    int r = real_execve(path, av, envp);
    exec_failed(ra);
    return r;
}
EXPORT int execlp(const char *file, const char *arg, ...) {
    void *ra = __builtin_return_address(0);
    char **envp = environ;
    COLLECT_ARGS(arg, av, 0, envp);
    (void)envp;
    exec_report("execlp", file, av, ra);
    int r = real_execvp(file, av);
    exec_failed(ra);
    return r;
}
EXPORT int execle(const char *path, const char *arg, ...) {
    void *ra = __builtin_return_address(0);
    char **envp = NULL;
    COLLECT_ARGS(arg, av, 1, envp);
    exec_report("execle", path, av, ra);
    int r = real_execve(path, av, envp);
    exec_failed(ra);
    return r;
}

static void wait_begin(const char *call, long long target, int options, void *ra) {
    int saved = errno;
    msg_t m; m_begin(&m, "proc.wait.begin"); m_kstr(&m, "call", call); m_kint(&m, "target", target);
    m_kint(&m, "options", options); m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    errno = saved;
}

static void wait_done(const char *call, long long target, int options, pid_t result, int status, int nowait,
                      void *ra) {
    int saved = errno;
    msg_t m; m_begin(&m, "proc.wait"); m_kstr(&m, "call", call); m_kint(&m, "target", target);
    m_kint(&m, "options", options); m_kint(&m, "result", result > 0 ? result : 0);
    if (result > 0) m_kint(&m, "status", status);
    if (nowait) { m_key(&m, "nowait"); m_s(&m, "true"); }
    m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 0, NULL, 0); t_busy = 0;
    errno = saved;
}

EXPORT pid_t waitpid(pid_t pid, int *wstatus, int options) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_waitpid(pid, wstatus, options);
    int st = 0;
    wait_begin("waitpid", pid, options, ra);
    pid_t r = real_waitpid(pid, &st, options);
    if (wstatus) *wstatus = st;
    wait_done("waitpid", pid, options, r, st, 0, ra);
    return r;
}
EXPORT pid_t wait(int *wstatus) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_wait(wstatus);
    int st = 0;
    wait_begin("wait", -1, 0, ra);
    pid_t r = real_waitpid(-1, &st, 0);
    if (wstatus) *wstatus = st;
    wait_done("wait", -1, 0, r, st, 0, ra);
    return r;
}
EXPORT pid_t wait3(int *wstatus, int options, struct rusage *ru) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_wait3(wstatus, options, ru);
    int st = 0;
    wait_begin("wait3", -1, options, ra);
    pid_t r = real_wait4(-1, &st, options, ru);
    if (wstatus) *wstatus = st;
    wait_done("wait3", -1, options, r, st, 0, ra);
    return r;
}
EXPORT pid_t wait4(pid_t pid, int *wstatus, int options, struct rusage *ru) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_wait4(pid, wstatus, options, ru);
    int st = 0;
    wait_begin("wait4", pid, options, ra);
    pid_t r = real_wait4(pid, &st, options, ru);
    if (wstatus) *wstatus = st;
    wait_done("wait4", pid, options, r, st, 0, ra);
    return r;
}
EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_waitid(idtype, id, info, options);
    long long target = idtype == P_PID ? (long long)id : -1;
    wait_begin("waitid", target, options, ra);
    int r = real_waitid(idtype, id, info, options);
    if (r == 0 && info) {
        int st = info->si_code == CLD_EXITED ? (info->si_status & 0xff) << 8
                 : info->si_code == CLD_KILLED ? info->si_status
                 : info->si_code == CLD_DUMPED ? info->si_status | 0x80 : 0;
        wait_done("waitid", target, options, info->si_pid, st, !!(options & WNOWAIT), ra);
    }
    return r;
}

/* ------------------------------------------------------------ signals */

static void signal_sent(long long to, int sig, void *ra) {
    if (!ENTER(ra) || sig == 0) return;
    int saved = errno;
    msg_t m; m_begin(&m, "signal.sent"); m_kint(&m, "to", to); m_signal(&m, sig); m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    errno = saved;
}

EXPORT int kill(pid_t pid, int sig) { signal_sent(pid, sig, __builtin_return_address(0)); return real_kill(pid, sig); }
EXPORT int killpg(pid_t pg, int sig) { signal_sent(-(long long)pg, sig, __builtin_return_address(0)); return real_killpg(pg, sig); }
EXPORT int raise(int sig) { signal_sent(getpid(), sig, __builtin_return_address(0)); return real_raise(sig); }
EXPORT int sigqueue(pid_t pid, int sig, const union sigval v) {
    signal_sent(pid, sig, __builtin_return_address(0));
    return real_sigqueue(pid, sig, v);
}

static void handler_report(int sig, void (*h)(int), void *ra) {
    int saved = errno;
    char name[80];
    handler_name(h, name, sizeof name);
    msg_t m; m_begin(&m, "signal.handler"); m_signal(&m, sig); m_kstr(&m, "handler", name); m_pc(&m, ra);
    if (from_main((void *)h)) { m_key(&m, "hpc"); m_int(&m, (long long)((uintptr_t)h - g_base)); }
    m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    errno = saved;
}

static int wrap_sigaction(int sig, const struct sigaction *act, struct sigaction *old, void *ra) {
    int traced = ENTER_STUDENT(ra) && sig > 0 && sig < 65;
    if (!traced) {
        int r = real_sigaction(sig, act, old);
        /* A handler installed through us is reported as the program's own. */
        if (r == 0 && old && sig > 0 && sig < 65 && g_wrapped[sig] && old->sa_sigaction == trampoline)
            *old = g_user[sig];
        return r;
    }
    struct sigaction mine, prev;
    const struct sigaction *use = act;
    int wrap = act && act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN && sig != SIGKILL &&
               sig != SIGSTOP;
    struct sigaction saved_user = g_user[sig];
    unsigned char saved_wrapped = g_wrapped[sig];
    if (wrap) {
        g_user[sig] = *act;
        mine = *act;
        mine.sa_sigaction = trampoline;
        mine.sa_flags |= SA_SIGINFO;
        use = &mine;
    }
    int r = real_sigaction(sig, use, &prev);
    if (r != 0) { g_user[sig] = saved_user; g_wrapped[sig] = saved_wrapped; return r; }
    if (old) *old = prev.sa_sigaction == trampoline && saved_wrapped ? saved_user : prev;
    if (act) {
        g_wrapped[sig] = (unsigned char)wrap;
        handler_report(sig, act->sa_handler, ra);
    }
    return 0;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    return wrap_sigaction(sig, act, old, __builtin_return_address(0));
}

EXPORT sighandler_t signal(int sig, sighandler_t h) {
    void *ra = __builtin_return_address(0);
    if (!ENTER_STUDENT(ra)) return real_signal(sig, h);
    struct sigaction act = {0}, old;
    act.sa_handler = h;
    sigemptyset(&act.sa_mask);
    sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART; /* glibc's signal() is BSD semantics */
    if (wrap_sigaction(sig, &act, &old, ra) < 0) return SIG_ERR;
    return old.sa_handler;
}

/* ------------------------------------------------------------ pipes, FIFOs, fds */

static void channel_report(const char *call, int fds[2], void *ra) {
    int saved = errno;
    struct stat st;
    if (fstat(fds[0], &st) == 0) {
        msg_t m; m_begin(&m, "ipc.channel"); m_kstr(&m, "kind", "pipe"); m_kint(&m, "ino", (long long)st.st_ino);
        m_key(&m, "fds"); m_s(&m, "["); m_int(&m, fds[0]); m_s(&m, ","); m_int(&m, fds[1]); m_s(&m, "]");
        m_kstr(&m, "call", call); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    }
    errno = saved;
}

EXPORT int pipe(int fds[2]) {
    void *ra = __builtin_return_address(0);
    int r = real_pipe(fds);
    if (r == 0 && ENTER(ra)) channel_report("pipe", fds, ra);
    return r;
}
EXPORT int pipe2(int fds[2], int flags) {
    void *ra = __builtin_return_address(0);
    int r = real_pipe2(fds, flags);
    if (r == 0 && ENTER(ra)) channel_report("pipe2", fds, ra);
    return r;
}

static void dup_report(const char *call, int fd, int fd2, int kind, ino_t ino, void *ra) {
    int saved = errno;
    msg_t m; m_begin(&m, "ipc.op"); m_kstr(&m, "op", "dup2"); m_kstr(&m, "call", call); m_kint(&m, "fd", fd);
    m_kint(&m, "fd2", fd2);
    if (kind) { m_kstr(&m, "kind", kind_name(kind)); m_kint(&m, "ino", (long long)ino); }
    m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    errno = saved;
}

EXPORT int dup(int fd) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_dup(fd);
    ino_t ino = 0;
    int kind = fd_kind(fd, &ino);
    int r = real_dup(fd);
    if (r >= 0) dup_report("dup", fd, r, kind, ino, ra);
    return r;
}
EXPORT int dup2(int fd, int fd2) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_dup2(fd, fd2);
    ino_t ino = 0;
    int kind = fd_kind(fd, &ino);
    int r = real_dup2(fd, fd2);
    if (r >= 0) dup_report("dup2", fd, fd2, kind, ino, ra);
    return r;
}
EXPORT int dup3(int fd, int fd2, int flags) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_dup3(fd, fd2, flags);
    ino_t ino = 0;
    int kind = fd_kind(fd, &ino);
    int r = real_dup3(fd, fd2, flags);
    if (r >= 0) dup_report("dup3", fd, fd2, kind, ino, ra);
    return r;
}

EXPORT int mkfifo(const char *path, mode_t mode) {
    void *ra = __builtin_return_address(0);
    int r = real_mkfifo(path, mode);
    if (r == 0 && ENTER(ra)) {
        int saved = errno;
        struct stat st;
        msg_t m; m_begin(&m, "ipc.channel"); m_kstr(&m, "kind", "fifo"); m_kstr(&m, "name", path);
        if (stat(path, &st) == 0) m_kint(&m, "ino", (long long)st.st_ino);
        m_kstr(&m, "call", "mkfifo"); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
        errno = saved;
    }
    return r;
}

static int open_impl(const char *path, int flags, mode_t mode, void *ra) {
    struct stat st;
    int before = errno;
    int fifo = ENTER(ra) && path && stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
    errno = before;
    const char *dir = (flags & O_ACCMODE) == O_RDONLY ? "read" : (flags & O_ACCMODE) == O_WRONLY ? "write" : "both";
    if (fifo) {
        int saved = errno;
        msg_t m; m_begin(&m, "ipc.op.begin"); m_kstr(&m, "kind", "fifo"); m_kstr(&m, "name", path);
        m_kint(&m, "ino", (long long)st.st_ino); m_kstr(&m, "op", "open"); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
        errno = saved;
    }
    int r = real_open(path, flags, mode);
    if (!fifo && r >= 0 && ENTER_STUDENT(ra) && shared_path(path)) {
        int saved = errno;
        if (fstat(r, &st) == 0 && S_ISREG(st.st_mode)) {
            note_file_fd(r, st.st_ino);
            msg_t m; m_begin(&m, "ipc.channel"); m_kstr(&m, "kind", "file"); m_kstr(&m, "name", path);
            m_kint(&m, "ino", (long long)st.st_ino); m_kint(&m, "fd", r); m_kstr(&m, "call", "open"); m_pc(&m, ra);
            m_end(&m);
            t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
        }
        errno = saved;
    }
    if (fifo && r >= 0) {
        int saved = errno;
        msg_t m; m_begin(&m, "ipc.op"); m_kstr(&m, "kind", "fifo"); m_kstr(&m, "name", path);
        m_kint(&m, "ino", (long long)st.st_ino); m_kstr(&m, "op", "open"); m_kstr(&m, "value", dir);
        m_kint(&m, "fd", r); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 0, NULL, 0); t_busy = 0;
        errno = saved;
    }
    return r;
}

EXPORT int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE)) { va_list ap; va_start(ap, flags); mode = va_arg(ap, mode_t); va_end(ap); }
    return open_impl(path, flags, mode, __builtin_return_address(0));
}
EXPORT int open64(const char *path, int flags, ...) __attribute__((alias("open")));

static void transfer(int fd, int kind, ino_t ino, const char *dir, const void *buf, ssize_t n, void *ra) {
    if (over_budget((uintptr_t)ino, kind_name(kind))) return;
    int saved = errno;
    msg_t m; m_begin(&m, "ipc.transfer"); m_kstr(&m, "kind", kind_name(kind)); m_kint(&m, "ino", (long long)ino);
    m_kint(&m, "fd", fd); m_kstr(&m, "direction", dir); m_kint(&m, "bytes", n);
    m_key(&m, "preview"); m_strn(&m, buf, (size_t)(n < PREVIEW ? n : PREVIEW)); m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    errno = saved;
}

EXPORT ssize_t read(int fd, void *buf, size_t count) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_read(fd, buf, count);
    ino_t ino = 0;
    int kind = fd_kind(fd, &ino);
    if (kind && kind != 4) { /* a regular file's read never waits for a writer */
        int saved = errno;
        msg_t m; m_begin(&m, "ipc.read.begin"); m_kstr(&m, "kind", kind_name(kind)); m_kint(&m, "ino", (long long)ino);
        m_kint(&m, "fd", fd); m_kint(&m, "want", (long long)count); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 0, NULL, 0); t_busy = 0;
        errno = saved;
    }
    ssize_t r = real_read(fd, buf, count);
    if (kind && r >= 0) transfer(fd, kind, ino, "read", buf, r, ra);
    return r;
}
EXPORT ssize_t write(int fd, const void *buf, size_t count) {
    void *ra = __builtin_return_address(0);
    if (!ENTER(ra)) return real_write(fd, buf, count);
    ino_t ino = 0;
    int kind = fd_kind(fd, &ino);
    ssize_t r = real_write(fd, buf, count);
    if (kind && r >= 0) transfer(fd, kind, ino, "write", buf, r, ra);
    return r;
}
EXPORT int close(int fd) {
    void *ra = __builtin_return_address(0);
    if (fd == g_fd && g_fd >= 0) { errno = EBADF; return -1; } /* a program closing every fd keeps our socket */
    if (!ENTER(ra)) return real_close(fd);
    ino_t ino = 0;
    int kind = fd_kind(fd, &ino);
    int r = real_close(fd);
    if (kind == 4) { if (r == 0) forget_file_fd(fd); kind = 0; } /* a file's close is no IPC operation */
    if (kind && r == 0) {
        int saved = errno;
        msg_t m; m_begin(&m, "ipc.op"); m_kstr(&m, "kind", kind_name(kind)); m_kint(&m, "ino", (long long)ino);
        m_kstr(&m, "op", "close"); m_kint(&m, "fd", fd); m_kint(&m, "value", fd); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
        errno = saved;
    }
    return r;
}

/* ------------------------------------------------------------ threads */

EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    void *ra = __builtin_return_address(0);
    int r = real_pthread_create(t, attr, fn, arg);
    if (r == 0 && ENTER_STUDENT(ra)) {
        int saved = errno;
        char name[80];
        handler_name((void (*)(int))(void *)fn, name, sizeof name);
        msg_t m; m_begin(&m, "thread.start"); m_kstr(&m, "name", name); m_pc(&m, ra); m_end(&m);
        t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
        errno = saved;
    }
    return r;
}

static void mutex_report(const char *type, const char *op, pthread_mutex_t *mu, int value, void *ra) {
    if (over_budget((uintptr_t)mu, "lock")) return;
    int saved = errno;
    char obj[40] = "mutex:";
    msg_t t; t.n = 0; m_uint(&t, (uintptr_t)mu); memcpy(obj + 6, t.b, t.n); obj[6 + t.n] = 0;
    msg_t m; m_begin(&m, type); m_kstr(&m, "kind", "lock"); m_kstr(&m, "obj", obj); m_kstr(&m, "op", op);
    if (value >= 0) { m_key(&m, "value"); m_s(&m, value ? "true" : "false"); }
    m_pc(&m, ra); m_end(&m);
    t_busy = 1; send_msg(&m, 1, NULL, 0); t_busy = 0;
    errno = saved;
}

EXPORT int pthread_mutex_lock(pthread_mutex_t *mu) {
    void *ra = __builtin_return_address(0);
    if (!ENTER_STUDENT(ra)) return real_pthread_mutex_lock(mu);
    mutex_report("ipc.op.begin", "acquire", mu, -1, ra);
    int r = real_pthread_mutex_lock(mu);
    mutex_report("ipc.op", "acquire", mu, r == 0, ra);
    return r;
}
EXPORT int pthread_mutex_unlock(pthread_mutex_t *mu) {
    void *ra = __builtin_return_address(0);
    int r = real_pthread_mutex_unlock(mu);
    if (ENTER_STUDENT(ra)) mutex_report("ipc.op", "release", mu, -1, ra);
    return r;
}
