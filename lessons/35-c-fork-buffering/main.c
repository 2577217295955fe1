#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    /* This lesson runs with stdout going into a pipe, fully buffered, as in `./main | cat`. */
    printf("[%d] before fork\n", (int) getpid());   /* stays in this process's stdio buffer ... */

    pid_t pid = fork();                             /* ... which fork() copies, with the rest of memory */
    if (pid == 0) {
        usleep(200 * 1000);
        printf("[%d] child after fork\n", (int) getpid());
        return 0;                                   /* exit flushes the child's copy of the buffer */
    }
    wait(NULL);
    printf("[%d] parent after fork\n", (int) getpid());
    fflush(stdout);                                 /* written now, at the latest at exit */
    return 0;
}
