/* looks for server secrets in its environment, in other processes' environments and in well-known files.
   Must: finds nothing secret (no instructor token, no server env). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <ctype.h>

extern char **environ;

static void dump(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        printf("%s %s\n", path, strerror(errno));
        return;
    }
    char buf[201];
    size_t n = fread(buf, 1, 200, f);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    printf("%s %s\n", path, buf);
    fclose(f);
}

int main(void)
{
    for (char **e = environ; *e != NULL; e++)
        printf("env %s\n", *e);
    DIR *d = opendir("/proc");
    struct dirent *ent;
    while (d != NULL && (ent = readdir(d)) != NULL) {
        if (!isdigit((unsigned char) ent->d_name[0]))
            continue;
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/environ", ent->d_name);
        dump(path);
    }
    if (d != NULL)
        closedir(d);
    const char *files[] = {"/etc/shadow", "/root/.bash_history", ".env", "data/proclab.db", "/proc/1/environ"};
    for (unsigned i = 0; i < sizeof files / sizeof files[0]; i++)
        dump(files[i]);
    return 0;
}
