mkdir -p src/sub; echo a > src/sub/a; echo r > src/r
tar --sort=name --mtime=@1200000000 --owner=7 --group=8 --numeric-owner -C src -cf - sub r | gzip -n > a.tar.gz
echo b > src/b
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C src -cf - b | bzip2 > b.tar.bz2
mkdir d; cp a.tar.gz d/inner.tar.gz
rm -rf src
find . -exec touch -h -d @1500000000 {} +
