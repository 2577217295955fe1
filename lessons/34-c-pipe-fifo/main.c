#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    /* 1. An anonymous pipe: only related processes share it (the child inherits both ends). */
    int fd[2];
    pipe(fd);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[1]);                          /* the reader closes its write end */
        char buf[64] = {0};
        ssize_t n = read(fd[0], buf, sizeof buf - 1);   /* blocks until the parent writes */
        printf("[child] read %zd bytes from the pipe: %s\n", n, buf);
        exit(0);
    }
    close(fd[0]);
    usleep(400 * 1000);                        /* the child waits in read() meanwhile */
    const char *msg = "hello through a pipe";
    write(fd[1], msg, strlen(msg));
    close(fd[1]);
    waitpid(pid, NULL, 0);

    /* 2. A FIFO (named pipe): a file name any process can open. */
    mkfifo("myfifo", 0600);
    pid = fork();
    if (pid == 0) {
        int r = open("myfifo", O_RDONLY);      /* blocks until a writer opens it */
        char buf[64] = {0};
        ssize_t n = read(r, buf, sizeof buf - 1);
        printf("[reader] got %zd bytes from the FIFO: %s\n", n, buf);
        close(r);
        exit(0);
    }
    usleep(400 * 1000);                        /* the reader waits in open() meanwhile */
    int w = open("myfifo", O_WRONLY);
    usleep(300 * 1000);                        /* both ends are open: the tree shows the FIFO */
    const char *note = "hello through a FIFO";
    write(w, note, strlen(note));
    close(w);
    waitpid(pid, NULL, 0);
    unlink("myfifo");
    return 0;
}
