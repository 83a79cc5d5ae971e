echo a292 > a292; mkdir d292; echo x292 > d292/x; find . -exec touch -h -d @1500000000 {} +
