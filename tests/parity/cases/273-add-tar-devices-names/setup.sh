python3 - <<'PY'
import tarfile, io
def add(t, name, data=b"x\n", typ=tarfile.REGTYPE, link="", mode=0o644, uid=0, gid=0, uname="", gname="", dev=(0,0)):
    i = tarfile.TarInfo(name); i.type = typ; i.mtime = 1200000000; i.mode = mode; i.linkname = link
    i.uid, i.gid, i.uname, i.gname = uid, gid, uname, gname
    i.devmajor, i.devminor = dev
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
with tarfile.open("dev272.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "null", typ=tarfile.CHRTYPE, mode=0o666, dev=(1, 3))
    add(t, "blk", typ=tarfile.BLKTYPE, mode=0o660, dev=(7, 0))
    add(t, "named", uid=5, gid=6, uname="app", gname="staff")
    add(t, "L/" + "x" * 120 + "/" + "y" * 120, data=b"gnu long\n")
    add(t, "longlink", typ=tarfile.SYMTYPE, link="z" * 150, mode=0o777)
PY
find . -exec touch -h -d @1500000000 {} +
