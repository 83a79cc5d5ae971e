/* Resource-limit probe for tests/limits.rs, built with gcc -static and run
 * as a RUN step of FROM scratch:
 *   probe forkbomb   children fork forever; the first process counts its
 *                    own forks until one fails, prints forks=N errno=E and
 *                    exits 1 (PID 1: the namespace goes with it)
 *   probe hog MB     allocates and touches MB MiB, prints hogged=MB
 *   probe escape     a child leaves the session (setsid) and sleeps 120 s
 *                    holding stdout; the probe itself exits 0 at once
 *   probe rlimit     prints nofile=SOFT:HARD from getrlimit (no /proc needed)
 *   probe show       prints /proc/self/limits rows and /proc/self/cgroup,
 *                    then stays alive for the seconds in argv[2] (default 0)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void cat(const char *path) {
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f) { printf("%s: %s\n", path, strerror(errno)); return; }
    while (fgets(line, sizeof line, f)) fputs(line, stdout);
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(argv[1], "forkbomb")) {
        long forks = 0;
        for (;;) {
            pid_t p = fork();
            if (p == 0) {
                for (;;) { if (fork() < 0) pause(); }
            }
            if (p < 0) {
                printf("forks=%ld errno=%s\n", forks, errno == EAGAIN ? "EAGAIN" : strerror(errno));
                return 1;
            }
            forks++;
        }
    }
    if (!strcmp(argv[1], "hog") && argc > 2) {
        long mb = atol(argv[2]);
        for (long i = 0; i < mb; i++) {
            char *p = malloc(1 << 20);
            if (!p) { printf("malloc failed at %ld\n", i); return 1; }
            memset(p, 1, 1 << 20);
        }
        printf("hogged=%ld\n", mb);
        return 0;
    }
    if (!strcmp(argv[1], "escape")) {
        if (fork() == 0) { setsid(); sleep(120); return 0; }
        printf("escaped\n");
        return 0;
    }
    if (!strcmp(argv[1], "rlimit")) {
        struct rlimit r;
        getrlimit(RLIMIT_NOFILE, &r);
        printf("nofile=%llu:%llu\n", (unsigned long long)r.rlim_cur, (unsigned long long)r.rlim_max);
        return 0;
    }
    if (!strcmp(argv[1], "show")) {
        cat("/proc/self/limits");
        cat("/proc/self/cgroup");
        if (argc > 2) sleep(atoi(argv[2]));
        return 0;
    }
    return 2;
}
