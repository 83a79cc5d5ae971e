mkdir src; echo t > src/t; mkdir src/d; echo u > src/d/u
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C src -cf - t d | zstd -q > arc.tar.zst
tar --sort=name --mtime=@1200000000 --owner=5 --group=6 --numeric-owner -C src -cf tar-without-ext t
echo just text | gzip -n > gz-not-tar.gz
tar --sort=name --mtime=@1200000000 -cf - -T /dev/null | gzip -n > empty.tar.gz
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C src -cf - t | lz4 -q > lz.tar.lz4
rm -rf src
find . -exec touch -h -d @1500000000 {} +
