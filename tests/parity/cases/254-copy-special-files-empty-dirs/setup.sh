mkdir -p empty e1/e2 full
mkfifo full/fifo
echo x > full/x
chmod 0711 e1/e2
find . -exec touch -h -d @1500000000 {} +
