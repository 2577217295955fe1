/* ignores SIGTERM, SIGINT, SIGHUP, SIGXCPU and spins. Must: killed at the time limit after the grace period;
   reported as a time limit. */
#include <signal.h>

int main(void)
{
    int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGXCPU};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_IGN);
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
