#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pid_t kids[3];
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            usleep((600 - 200 * i) * 1000);   /* the last child finishes first */
            if (i == 2)
                kill(getpid(), SIGTERM);      /* ended by a signal, not by exit() */
            exit(10 + i);                     /* exit status 10 or 11 */
        }
        printf("[parent] started child %d: pid %d\n", i, (int) kids[i]);
    }

    for (int i = 0; i < 3; i++) {
        int status;
        pid_t who = waitpid(kids[i], &status, 0);   /* wait for this child, in order */
        if (WIFEXITED(status))
            printf("[parent] waitpid -> pid %d exited, WEXITSTATUS=%d\n", (int) who, WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            printf("[parent] waitpid -> pid %d killed by signal, WTERMSIG=%d\n", (int) who, WTERMSIG(status));
    }
    if (wait(NULL) == -1)
        perror("[parent] one more wait()");   /* ECHILD: no children left */
    return 0;
}
