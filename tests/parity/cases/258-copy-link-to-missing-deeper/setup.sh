mkdir etc; echo g > etc/group; ln -s etc/nope/deeper lnk
