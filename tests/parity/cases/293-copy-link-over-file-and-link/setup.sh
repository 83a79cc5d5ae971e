echo a293 > a293; mkdir d293; echo x293 > d293/x; find . -exec touch -h -d @1500000000 {} +
