echo a288 > a; mkdir d; echo b288 > d/b; find . -exec touch -h -d @1500000000 {} +
