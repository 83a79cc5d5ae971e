echo a297 > a297; find . -exec touch -h -d @1500000000 {} +
