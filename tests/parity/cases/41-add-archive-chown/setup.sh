mkdir -p src/d
echo f > src/d/f
tar --sort=name --mtime=@0 --owner=777 --group=888 --numeric-owner -C src -cf - d | gzip -n > arc.tar.gz
rm -rf src
