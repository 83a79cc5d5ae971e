mkdir -p m/locked m/sticky
echo n > m/none; echo s > m/suid; echo g > m/sgid; echo w > m/world
echo in > m/locked/in
python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('m/sock')"
find . -exec touch -h -d @1500000000 {} +
chmod 000 m/none; chmod 4755 m/suid; chmod 2711 m/sgid; chmod 777 m/world
chmod 1777 m/sticky; chmod 000 m/locked
