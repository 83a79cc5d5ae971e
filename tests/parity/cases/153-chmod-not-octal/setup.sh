chmod 604 a.txt
