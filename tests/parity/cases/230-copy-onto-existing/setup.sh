echo a > a
mkdir d; echo x > d/x
find . -exec touch -h -d @1500000000 {} +
