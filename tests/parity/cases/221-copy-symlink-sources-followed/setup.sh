mkdir -p links/d/sub target
echo f > links/f
echo g > links/d/g
echo h > links/d/sub/h
echo t > target/t
ln -s f links/to-file
ln -s d links/to-dir
ln -s /target/t links/abs-in-ctx
find . -exec touch -h -d @1500000000 {} +
