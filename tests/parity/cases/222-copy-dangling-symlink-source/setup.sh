ln -s nowhere dangling
find . -exec touch -h -d @1500000000 {} +
