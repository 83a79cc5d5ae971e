echo a > a.txt; mkdir d; echo a > d/a; find . -exec touch -h -d @1500000000 {} +
