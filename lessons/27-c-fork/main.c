#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    printf("[parent %d] before fork, my parent is %d\n", (int) getpid(), (int) getppid());

    pid_t pid = fork();            /* one call ... */
    if (pid < 0) {                 /* ... which can fail (no child was made) */
        perror("fork");
        exit(1);
    }
    if (pid == 0) {                /* ... returns 0 in the child */
        printf("[child  %d] fork() returned 0, my parent is %d\n", (int) getpid(), (int) getppid());
        usleep(300 * 1000);        /* stay a while, so the tree shows both */
        exit(0);
    }
    /* ... and the child's PID in the parent */
    printf("[parent %d] fork() returned %d, the PID of my child\n", (int) getpid(), (int) pid);
    wait(NULL);
    printf("[parent %d] my child is done\n", (int) getpid());
    return 0;
}
