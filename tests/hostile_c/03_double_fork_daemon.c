/* double fork + setsid daemon that outlives its parents and writes a marker later.
   Must: daemon killed at run end; marker never written. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
    if (fork() == 0) {
        setsid();
        signal(SIGHUP, SIG_IGN);
        if (fork() == 0) {
            sleep(20);
            FILE *f = fopen("/tmp/proclab-escaped-daemon", "w");
            if (f != NULL) {
                fputs("escaped\n", f);
                fclose(f);
            }
            _exit(0);
        }
        _exit(0);
    }
    printf("parent done\n");
    return 0;
}
