/* What a RUN step may do, probed from inside it: one `key=value` line per
 * row, written to /probe.out (and stdout). Built static by tests/security.rs
 * and run the same way in `docker build` (Docker 26.1) and builder, so the
 * two tables compare row by row. Values: "ok" or the errno name for calls;
 * kinds for paths (see describe()). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static FILE *out;

static const char *ename(int e) {
    switch (e) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case ENOENT: return "ENOENT";
    case EINVAL: return "EINVAL";
    case EROFS: return "EROFS";
    case EEXIST: return "EEXIST";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

static void row(const char *key, const char *value) {
    fprintf(out, "%s=%s\n", key, value);
    printf("%s=%s\n", key, value);
}

/* The result of a call returning -1 on error. */
static void call(const char *key, long r) { row(key, ename(r == -1 ? errno : 0)); }

static void status_field(const char *field, const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(field);
    if (!f) {
        row(key, "no-proc");
        return;
    }
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            char *v = line + n + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            row(key, v);
            fclose(f);
            return;
        }
    }
    fclose(f);
    row(key, "absent");
}

/* A masked or read-only path: absent, chardev (a bound /dev/null) with the
 * bytes read, emptydir/dir, file; then ro/rw of its mount. */
static void describe(const char *path) {
    struct stat st;
    char value[64];
    const char *kind;
    if (stat(path, &st) != 0) {
        row(path, ename(errno));
        return;
    }
    if (S_ISCHR(st.st_mode)) kind = "chardev";
    else if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        int n = 0;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
        if (d) closedir(d);
        kind = n ? "dir" : "emptydir";
    } else kind = "file";
    struct statvfs vfs;
    const char *ro = statvfs(path, &vfs) == 0 ? ((vfs.f_flag & ST_RDONLY) ? "ro" : "rw") : "?";
    snprintf(value, sizeof value, "%s,%s", kind, ro);
    row(path, value);
}

/* mknod a char device at `path`, then open it. */
static void device(const char *key, const char *path, int major, int minor) {
    char k[96];
    unlink(path);
    snprintf(k, sizeof k, "%s.mknod", key);
    int r = mknod(path, S_IFCHR | 0600, makedev(major, minor));
    call(k, r);
    snprintf(k, sizeof k, "%s.open", key);
    if (r == 0) {
        int fd = open(path, O_RDONLY | O_NONBLOCK);
        call(k, fd);
        if (fd >= 0) close(fd);
        unlink(path);
    } else row(k, "no-node");
}

static void interfaces(void) {
    FILE *f = fopen("/proc/net/dev", "r");
    char line[512], names[256] = "";
    if (!f) {
        row("net.interfaces", "no-proc");
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = 0;
        char *name = line;
        while (*name == ' ') name++;
        if (names[0]) strncat(names, ",", sizeof names - strlen(names) - 1);
        strncat(names, name, sizeof names - strlen(names) - 1);
    }
    fclose(f);
    row("net.interfaces", names);
}

static void processes(void) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    char v[16];
    if (!d) {
        row("proc.pids", "no-proc");
        return;
    }
    while ((e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') n++;
    closedir(d);
    snprintf(v, sizeof v, "%d", n);
    row("proc.pids", v);
}

/* A setuid-root copy of this program, exec'd as uid 65534: prints the euid
 * it got (0 when no_new_privs is off and the mount is not nosuid). */
static void setuid_exec(const char *self) {
    int in = open(self, O_RDONLY), outfd = open("/probe-suid", O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[65536];
    ssize_t n;
    int p[2];
    if (in < 0 || outfd < 0) {
        row("setuid.euid", "copy-failed");
        return;
    }
    while ((n = read(in, buf, sizeof buf)) > 0) write(outfd, buf, n);
    close(in);
    close(outfd);
    chmod("/probe-suid", 04755);
    pipe(p);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        if (setgid(65534) || setuid(65534)) _exit(3);
        execl("/probe-suid", "/probe-suid", "euid", (char *)0);
        _exit(4);
    }
    close(p[1]);
    char got[32] = "";
    n = read(p[0], got, sizeof got - 1);
    got[n > 0 ? n : 0] = 0;
    got[strcspn(got, "\n")] = 0;
    waitpid(pid, 0, 0);
    row("setuid.euid", got[0] ? got : "none");
    unlink("/probe-suid");
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "euid") == 0) {
        printf("%d\n", (int)geteuid());
        return 0;
    }
    out = fopen("/probe.out", "w");
    if (!out) return 1;
    status_field("Seccomp", "status.seccomp");
    status_field("NoNewPrivs", "status.no_new_privs");
    status_field("CapEff", "status.cap_eff");
    status_field("CapBnd", "status.cap_bnd");
    processes();
    interfaces();
    device("dev.mem", "/dev/probe-mem", 1, 1);
    device("root.kvm", "/probe-kvm", 10, 232);
    call("unshare.user", unshare(CLONE_NEWUSER));
    call("unshare.mount", unshare(CLONE_NEWNS));
    call("mount.tmpfs", mount("tmpfs", "/tmp", "tmpfs", 0, 0));
    call("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0));
    call("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -2 /* KEY_SPEC_PROCESS */));
    call("io_uring_setup", syscall(425 /* io_uring_setup */, 1, calloc(1, 256)));
    call("personality.read_implies_exec", personality(READ_IMPLIES_EXEC));
    call("socket.vsock", socket(AF_VSOCK, SOCK_STREAM, 0));
    call("clone3", syscall(435 /* clone3 */, 0, 0));
    const char *paths[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                           "/proc/acpi", "/proc/scsi", "/sys/firmware", "/proc/latency_stats",
                           "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                           "/proc/sysrq-trigger", "/sys", 0};
    for (int i = 0; paths[i]; i++) describe(paths[i]);
    call("sys.write", open("/sys/kernel/mm/transparent_hugepage/enabled", O_WRONLY));
    setuid_exec(argv[0]);
    fclose(out);
    return 0;
}
