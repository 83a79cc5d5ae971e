mkdir -p h/sub
echo a > h/a
ln h/a h/b
ln h/a h/sub/c
echo s > h/single
find . -exec touch -h -d @1500000000 {} +
