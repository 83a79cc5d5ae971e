echo a > a; mkdir d; echo z > d/z
find . -exec touch -h -d @1500000000 {} +
