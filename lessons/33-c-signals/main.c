#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1 = 0;

static void on_usr1(int sig)
{
    (void) sig;
    got_usr1 = 1;                      /* a handler does little: set a flag */
}

static void on_chld(int sig)
{
    (void) sig;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {   /* reap every child that has ended */
        char msg[80];
        int n = snprintf(msg, sizeof msg, "[parent] SIGCHLD: reaped %d (%s %d)\n", (int) pid,
                         WIFSIGNALED(status) ? "signal" : "exit code",
                         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        write(STDOUT_FILENO, msg, n);  /* write(), not printf(): safe in a handler */
    }
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_chld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    /* Child 1: catches SIGUSR1 with a handler */
    pid_t c1 = fork();
    if (c1 == 0) {
        signal(SIGUSR1, on_usr1);
        while (!got_usr1)
            pause();                   /* sleep until a signal arrives */
        printf("[child1 %d] caught SIGUSR1 in my handler\n", (int) getpid());
        exit(0);
    }
    /* Child 2: would count forever; stopped, continued, then killed */
    pid_t c2 = fork();
    if (c2 == 0) {
        signal(SIGTERM, SIG_IGN);      /* ignores SIGTERM ... */
        for (;;)
            usleep(50 * 1000);
    }

    usleep(300 * 1000);
    printf("[parent] kill(%d, SIGUSR1)\n", (int) c1);
    kill(c1, SIGUSR1);

    usleep(300 * 1000);
    printf("[parent] kill(%d, SIGSTOP)\n", (int) c2);
    kill(c2, SIGSTOP);
    usleep(400 * 1000);                /* the tree shows it stopped (T) */
    printf("[parent] kill(%d, SIGCONT)\n", (int) c2);
    kill(c2, SIGCONT);
    usleep(300 * 1000);
    printf("[parent] kill(%d, SIGTERM): ignored\n", (int) c2);
    kill(c2, SIGTERM);
    usleep(300 * 1000);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);   /* SIGCHLD now waits (pending) until unblocked */
    printf("[parent] kill(%d, SIGKILL): cannot be caught or ignored\n", (int) c2);
    kill(c2, SIGKILL);                 /* ... but SIGKILL ends it */
    usleep(500 * 1000);                /* a zombie until the handler runs */
    sigprocmask(SIG_SETMASK, &old, NULL);  /* the pending SIGCHLD is delivered now */

    usleep(200 * 1000);
    printf("[parent] done\n");
    return 0;
}
