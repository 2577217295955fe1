#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* The shell's `ls | wc -l`, by hand. */
int main(void)
{
    int fd[2];
    if (pipe(fd) == -1) {              /* fd[0]: read end, fd[1]: write end */
        perror("pipe");
        exit(1);
    }

    pid_t left = fork();
    if (left == 0) {                   /* ls: its stdout becomes the pipe's write end */
        usleep(200 * 1000);            /* a pause to look at the tree: wc waits on the empty pipe */
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execlp("ls", "ls", (char *) NULL);
        perror("execlp ls");
        exit(127);
    }

    pid_t right = fork();
    if (right == 0) {                  /* wc -l: its stdin becomes the pipe's read end */
        dup2(fd[0], STDIN_FILENO);
        close(fd[0]);
        close(fd[1]);
        execlp("wc", "wc", "-l", (char *) NULL);
        perror("execlp wc");
        exit(127);
    }

    close(fd[0]);                      /* the parent keeps no end: wc sees end of file when ls exits */
    close(fd[1]);
    int status;
    waitpid(left, &status, 0);
    waitpid(right, &status, 0);
    fprintf(stderr, "[parent] ls | wc -l done, wc exited with %d\n", WEXITSTATUS(status));
    return 0;
}
