# Fixed old mtimes: the destination of a directory copy takes its source directory's.
mkdir -p d/sub
echo a > a.txt
echo x > d/x
echo y > d/sub/y
chmod 750 d
find . -exec touch -h -d @1500000000 {} +
touch -d @1450000000 d/sub
touch -d @1500000000 d
