/* asks for 100 GB at once, then grows by 64 MB steps, touching every page.
   Must: malloc fails or the run is killed at the memory limit, reported as such; server memory flat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    void *huge = malloc(100UL << 30);
    if (huge == NULL)
        printf("big allocation refused\n");
    fflush(stdout);
    for (;;) {
        char *chunk = malloc(64UL << 20);
        if (chunk == NULL) {
            printf("malloc failed\n");
            fflush(stdout);
            for (;;)
                ;                      /* hold on to everything */
        }
        memset(chunk, 1, 64UL << 20);
    }
}
