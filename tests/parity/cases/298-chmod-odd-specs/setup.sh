echo a298 > a298; chmod 604 a298; mkdir d298; echo b > d298/b; find . -exec touch -h -d @1500000000 {} +
