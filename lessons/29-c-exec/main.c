#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        printf("[child %d] I am still main; now I become wc\n", (int) getpid());
        usleep(200 * 1000);
        char *argv[] = {"wc", "-l", "main.c", NULL};
        execvp(argv[0], argv);            /* only returns if it failed */
        perror("execvp");
        exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("[parent] child %d (now wc) exited with %d\n", (int) pid, WEXITSTATUS(status));

    pid = fork();
    if (pid == 0) {
        usleep(200 * 1000);
        execlp("no-such-program", "no-such-program", (char *) NULL);
        perror("[child] execlp no-such-program");   /* still the old program */
        exit(127);
    }
    usleep(400 * 1000);                 /* meanwhile the failed child is a zombie with its 127 */
    waitpid(pid, &status, 0);
    printf("[parent] second child exited with %d\n", WEXITSTATUS(status));
    return 0;
}
