mkdir -p links/d outside
echo f > links/f
ln -s f links/to-file
ln -s d links/to-dir
ln -s missing links/dangling
ln -s /etc/passwd links/absolute
ln -s ../outside links/outside
ln -s ../../../../x links/far-up
ln -s . links/self
ln -s d/../f links/dotdot
find . -exec touch -h -d @1500000000 {} +
