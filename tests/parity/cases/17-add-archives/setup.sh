mkdir -p src/tree/sub src/tree/empty
echo "archived" > src/tree/file.txt
echo "inner" > src/tree/sub/inner.txt
chmod 0640 src/tree/sub/inner.txt
chmod 4755 src/tree/sub
ln -s file.txt src/tree/link
ln src/tree/file.txt src/tree/hard
chmod 0700 src/tree/empty
T="tar --sort=name --mtime=@0 --owner=1234 --group=5678 --numeric-owner -C src"
$T -cf plain.tar tree
$T -cf - tree | gzip -n > gz.tar.gz
$T -cf - tree | bzip2 > bz.tar.bz2
$T -cf - tree | xz > xz.tar.xz
rm -rf src
