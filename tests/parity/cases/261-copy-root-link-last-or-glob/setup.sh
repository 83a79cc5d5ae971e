mkdir etc; echo g > etc/group
ln -s . up
ln -s / abs
ln -s etc/.. mid-root
ln -s etc mid
find . -exec touch -h -d @1500000000 {} +
