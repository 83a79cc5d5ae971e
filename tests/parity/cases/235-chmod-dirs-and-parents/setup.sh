echo a > a
mkdir -p d/s; echo x > d/x; echo y > d/s/y; chmod 700 d/s
ln -s a l
mkdir src; echo t > src/t; mkdir src/td
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C src -cf arc.tar t td
rm -rf src
find . -exec touch -h -d @1500000000 {} +
