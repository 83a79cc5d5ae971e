mkdir -p etc
echo ctx-group > etc/group
echo ctx-passwd > etc/passwd
ln -s ../../../.. up
ln -s /etc/passwd abs
find . -exec touch -h -d @1500000000 {} +
