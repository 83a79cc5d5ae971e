mkdir s
dd if=/dev/zero of=s/holes bs=1 count=0 seek=3M 2>/dev/null
printf 'mid' | dd of=s/holes bs=1 seek=1M conv=notrunc 2>/dev/null
printf 'end' >> s/holes
tar --sparse --format=gnu --sort=name --mtime=@1200000000 --owner=0 --group=0 --numeric-owner -C s -cf sparse272.tar holes
rm -r s
find . -exec touch -h -d @1500000000 {} +
