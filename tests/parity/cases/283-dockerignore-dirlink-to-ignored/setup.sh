mkdir hidden; echo s > hidden/s; ln -s hidden dl
