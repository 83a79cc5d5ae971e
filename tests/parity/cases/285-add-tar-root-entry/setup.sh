python3 - <<'EOP'
import tarfile, io
def add(t, name, data=b"x\n", typ=tarfile.REGTYPE, link="", mode=0o644, uid=0, gid=0, mtime=1200000000):
    i = tarfile.TarInfo(name); i.type = typ; i.mtime = mtime; i.mode = mode; i.linkname = link
    i.uid, i.gid = uid, gid
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
with tarfile.open("r285.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "./", typ=tarfile.DIRTYPE, mode=0o700, uid=5, gid=6, mtime=1100000000)
    add(t, "./f")
with tarfile.open("merged285.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "./", typ=tarfile.DIRTYPE, mode=0o755, mtime=1100000000)
    add(t, "./usr/", typ=tarfile.DIRTYPE, mode=0o755)
    add(t, "./usr/sbin/", typ=tarfile.DIRTYPE, mode=0o755)
    add(t, "./usr/sbin/tool", mode=0o755)
    add(t, "./sbin", typ=tarfile.SYMTYPE, link="usr/sbin", mode=0o777)
    add(t, "./sbin/through", mode=0o755)
EOP
find . -exec touch -h -d @1500000000 {} +
