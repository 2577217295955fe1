/* writes outside its run directory (system dirs, the runtime dir above it, /tmp), then fills a file until
   the limit stops it. Must: EACCES/EROFS outside the run; EFBIG inside it; everything removed at teardown. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_write(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) {
        printf("%s refused: %s\n", path, strerror(errno));
        return;
    }
    printf("%s WRITTEN\n", path);
    close(fd);
}

int main(void)
{
    const char *outside[] = {"/etc/passwd", "/etc/proclab-escaped", "/usr/lib/proclab-escaped", "/root/proclab-escaped",
                             "../proclab-escaped", "../../proclab-escaped", "/proc/sys/kernel/hostname"};
    for (unsigned i = 0; i < sizeof outside / sizeof outside[0]; i++)
        try_write(outside[i]);
    signal(SIGXFSZ, SIG_IGN);          /* as Python does: the write fails with EFBIG instead of a signal */
    static char block[1 << 20];
    const char *fill[] = {"big.bin", "/tmp/proclab-big.bin"};
    for (unsigned i = 0; i < 2; i++) {
        int fd = open(fill[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        while (fd >= 0 && write(fd, block, sizeof block) > 0)
            ;
        printf("%s %s\n", fill[i], strerror(errno));
        fflush(stdout);
        if (fd >= 0)
            close(fd);
    }
    return 0;
}
