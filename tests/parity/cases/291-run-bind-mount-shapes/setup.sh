mkdir -p d291/sub; echo f291b > d291/f; echo g291 > d291/sub/g; echo i > ignored291; ln -s d291 lnk291; find . -exec touch -h -d @1500000000 {} +
