echo a > a
mkdir -p d/bin; echo x > d/bin/x; chmod 755 d/bin/x
ln -s a l
mkdir src; echo t > src/t
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C src -cf link236.tar t
rm -rf src
find . -exec touch -h -d @1500000000 {} +
