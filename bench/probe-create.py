#!/usr/bin/env python3
"""Times the creation of small files: the file-creation probe of `settle` in bench/lib.sh.

    probe-create.py DIR FILES [SUBDIRS]

Creates DIR (it must not exist), SUBDIRS sub-directories in it (default 10) and FILES files spread
over them, 16 bytes each, no fsync, and prints "WALL_S CPU_S" (seconds, 4 decimals): the wall time
and this process's CPU time (user + system) of the creates. Nothing is deleted: deleting would make
the next creates in the same inode groups slow, the very effect the probe measures (ext4 without a
journal skips recently deleted inodes, fs/ext4/ialloc.c recently_deleted()). The caller deletes DIR
at a time it waits out anyway. Exits 1 with a message on bad arguments or an OS error.
"""
import os
import sys
import time


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit("usage: probe-create.py DIR FILES [SUBDIRS]")
    root = argv[1]
    try:
        files = int(argv[2])
        subdirs = int(argv[3]) if len(argv) == 4 else 10
    except ValueError:
        sys.exit("probe-create.py: FILES and SUBDIRS must be integers")
    if files < 1 or subdirs < 1:
        sys.exit("probe-create.py: FILES and SUBDIRS must be at least 1")
    data = b"probe-create.py\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        os.mkdir(root)
        # Sub-directories like a build's tree: the allocator places each one in some inode group
        # (Orlov), so the probe samples several groups near DIR, as a tool's state would.
        dirs = [os.path.join(root, "d%02d" % i) for i in range(subdirs)]
        for d in dirs:
            os.mkdir(d)
        for i in range(files):
            fd = os.open(os.path.join(dirs[i % subdirs], "f%05d" % i), flags, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        w1, c1 = time.perf_counter(), time.process_time()
    except OSError as e:
        sys.exit("probe-create.py: %s" % e)
    print("%.4f %.4f" % (w1 - w0, c1 - c0))


if __name__ == "__main__":
    main(sys.argv)
