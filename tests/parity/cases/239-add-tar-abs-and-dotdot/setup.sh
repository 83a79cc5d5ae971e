python3 - <<'PY'
import tarfile, io
def add(t, name, data=b"x\n", typ=tarfile.REGTYPE, link=""):
    i = tarfile.TarInfo(name); i.type = typ; i.mtime = 1200000000; i.mode = 0o644; i.linkname = link
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        i.mode = 0o755 if typ == tarfile.DIRTYPE else 0o777; t.addfile(i)
with tarfile.open("abs.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "/abs/file")
    add(t, "/abs/hard", typ=tarfile.LNKTYPE, link="/abs/file")
    add(t, "./rel/./file")
    add(t, "/abs/sym", typ=tarfile.SYMTYPE, link="/abs/file")
with tarfile.open("dotdot.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "../escaped")
    add(t, "a/../../escaped2")
    add(t, "ok")
PY
find . -exec touch -h -d @1500000000 {} +
