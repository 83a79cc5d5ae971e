echo a289 > a289; mkdir d289; echo b289 > d289/b; find . -exec touch -h -d @1500000000 {} +
