#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        printf("[child  %d] my parent is %d\n", (int) getpid(), (int) getppid());
        sleep(1);                       /* the parent is gone by now */
        printf("[child  %d] my parent is now %d (init adopted me)\n", (int) getpid(), (int) getppid());
        return 0;
    }
    usleep(300 * 1000);
    printf("[parent %d] exiting without waiting for %d\n", (int) getpid(), (int) pid);
    return 0;
}
