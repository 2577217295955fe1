/* fork bomb: forks without end. Must: forks fail (EAGAIN) at the run's process limit; run ended; nothing left. */
#include <unistd.h>

int main(void)
{
    for (;;)
        fork();
}
