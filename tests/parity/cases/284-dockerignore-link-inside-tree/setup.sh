mkdir tree; echo t > tree/target; echo k > tree/keep; echo x > tree/x.tmp
ln -s target tree/to-ignored; ln -s x.tmp tree/to-tmp
find . -exec touch -h -d @1500000000 {} +
