mkdir -p d/sub
echo o > old; echo f > d/sub/f
ln -s old sym
find . -exec touch -h -d @1500000000 {} +
touch -d @946684800 old
touch -h -d @978307200 sym
touch -d @1000000000 d/sub/f
touch -d @1100000000 d/sub
touch -d @1200000000 d
