mkdir s; head -c 20000 /dev/zero | tr '\0' a > s/big; echo b > s/b
tar --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C s -cf full.tar big b
head -c 5000 full.tar > t279.tar; rm -r s full.tar
