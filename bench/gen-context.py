#!/usr/bin/env python3
"""Write a deterministic build context of many files with mixed sizes in nested directories.

    gen-context.py DIR FILES TOTAL_BYTES [SEED]

Sizes follow a log-normal spread (mostly small files, a few large ones) scaled so that they add
up to TOTAL_BYTES; files sit 1 to 3 directories deep, at most ~100 entries per directory. The same
arguments always give the same tree (names, sizes and bytes), so the context can be cached and
every tool sees identical input. The content is pseudo-random, hence incompressible, like
binaries and archives are."""
import os
import random
import sys


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    root, files, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) == 5 else 42)
    weights = [rng.lognormvariate(0.0, 1.6) for _ in range(files)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    # one random pool; each file is a slice of it at a random offset (fast and still incompressible)
    pool = rng.randbytes(8 << 20)
    big = max(sizes)
    while len(pool) < 2 * big:
        pool += rng.randbytes(8 << 20)
    for i, size in enumerate(sizes):
        depth = 1 + i % 3
        parts = [f"d{(i // 100) % 20:02d}", f"e{(i // 2000) % 10}", f"f{i % 7}"][:depth]
        d = os.path.join(root, *parts)
        os.makedirs(d, exist_ok=True)
        off = rng.randrange(0, len(pool) - size)
        with open(os.path.join(d, f"file{i:06d}.bin"), "wb") as f:
            f.write(pool[off:off + size])
    return 0


if __name__ == "__main__":
    sys.exit(main())
