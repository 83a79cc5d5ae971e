mkdir d1 d2 d3
echo a > d1/a
ln d1/a d2/b
ln d1/a d3/c
ln d1/a d1/a2
ln -s a d1/sym
ln d1/sym d2/hsym
find . -exec touch -h -d @1500000000 {} +
