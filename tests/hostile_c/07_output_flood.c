/* prints a megabyte per line forever. Must: output truncated at the run's cap, run ended, server memory flat,
   browser gets no more than the cap. */
#include <stdio.h>
#include <string.h>

int main(void)
{
    static char line[1000001];
    memset(line, 'a', sizeof line - 1);
    for (;;)
        puts(line);
}
