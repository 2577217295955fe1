/* opens pipes until it cannot. Must: EMFILE inside the run; the server's own fd count unchanged after the run. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

int main(void)
{
    int fd[2], n = 0;
    while (pipe(fd) == 0)
        n += 2;
    printf("stopped at %d fds: %s\n", n, strerror(errno));
    return 0;
}
