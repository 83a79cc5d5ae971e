mkdir -p d/sub/deep d/empty
echo a > d/a
echo b > d/sub/b
echo c > d/sub/deep/c
chmod 700 d/sub
chmod 750 d/empty
find . -exec touch -h -d @1500000000 {} +
touch -d @1400000000 d/sub d
