mkdir s; echo b > s/b
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C s -cf t280.tar b; rm -r s
