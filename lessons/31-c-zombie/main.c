#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The State: line of /proc/PID/status: what `ps` shows in its STAT column. */
static void show_state(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("[parent] child %d: gone (no %s)\n", (int) pid, path);
        return;
    }
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "State:", 6) == 0)
            printf("[parent] child %d is in state: %s", (int) pid, line + 7);
    fclose(f);
}

int main(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        printf("[child  %d] done, exit(7)\n", (int) getpid());
        exit(7);
    }
    for (int i = 0; i < 3; i++) {      /* busy, not collecting the child */
        usleep(400 * 1000);
        show_state(pid);
    }
    int status;
    pid_t who = wait(&status);
    printf("[parent] wait() -> %d, status %d, exit code %d\n", (int) who, status, WEXITSTATUS(status));
    show_state(pid);
    return 0;
}
