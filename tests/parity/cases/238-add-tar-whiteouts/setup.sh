mkdir -p src/etc src/home/app
touch src/etc/.wh.group src/home/.wh..wh..opq src/.wh.linuxrc
echo new > src/home/app/new
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C src -cf wh.tar .
rm -rf src
find . -exec touch -h -d @1500000000 {} +
