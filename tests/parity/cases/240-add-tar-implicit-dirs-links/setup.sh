python3 - <<'PY'
import tarfile, io
def add(t, name, data=b"x\n", typ=tarfile.REGTYPE, link="", mode=0o644, mtime=1200000000, uid=0, gid=0, uname="", gname=""):
    i = tarfile.TarInfo(name); i.type = typ; i.mtime = mtime; i.mode = mode; i.linkname = link
    i.uid, i.gid, i.uname, i.gname = uid, gid, uname, gname
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
with tarfile.open("arc.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "no/parent/entries/file", mode=0o600, uid=1000, gid=50, uname="someone", gname="else")
    add(t, "dir", typ=tarfile.DIRTYPE, mode=0o2775, mtime=1100000000)
    add(t, "dir/f", mode=0o4755, mtime=1000000000)
    add(t, "dir/hard", typ=tarfile.LNKTYPE, link="dir/f")
    add(t, "dir/sym", typ=tarfile.SYMTYPE, link="f", mode=0o777, mtime=1000000001)
    add(t, "later-dir-entry/child", mtime=1000000002)
    add(t, "later-dir-entry", typ=tarfile.DIRTYPE, mode=0o700, mtime=1000000003)
    add(t, "fifo", typ=tarfile.FIFOTYPE, mode=0o640)
    add(t, "L" * 150, data=b"long\n")
    add(t, "dup", data=b"first\n")
    add(t, "dup", data=b"second\n")
    add(t, "replaced-by-dir", data=b"file\n")
    add(t, "replaced-by-dir", typ=tarfile.DIRTYPE, mode=0o755)
PY
find . -exec touch -h -d @1500000000 {} +
