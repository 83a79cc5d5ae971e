python3 - <<'PY'
import tarfile, io
def add(t, name, data=b"x\n", typ=tarfile.REGTYPE, link="", mode=0o644, mtime=1200000000, uid=0, gid=0, pax=None):
    i = tarfile.TarInfo(name); i.type = typ; i.mtime = mtime; i.mode = mode; i.linkname = link
    i.uid, i.gid = uid, gid
    if pax: i.pax_headers = pax
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
with tarfile.open("t263.tar", "w", format=tarfile.PAX_FORMAT) as t:
    add(t, "d", typ=tarfile.DIRTYPE, mode=0o750, mtime=1100000000)
    add(t, "d/f", mode=0o640, uid=5, gid=6)
    add(t, "l", typ=tarfile.SYMTYPE, link="d", mode=0o777)
    add(t, "l/through-rel", data=b"via l\n")
    add(t, "abs", typ=tarfile.SYMTYPE, link="/d", mode=0o777)
    add(t, "abs/through-abs", data=b"via abs\n")
    add(t, "s", typ=tarfile.SYMTYPE, link="d/f", mode=0o777, mtime=1000000000)
    add(t, "hard-to-sym", typ=tarfile.LNKTYPE, link="s", mode=0o600, uid=7, gid=8, mtime=1000000005)
    add(t, "caps", pax={"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "SCHILY.xattr.user.note": "hi"})
    add(t, "hard-last", typ=tarfile.LNKTYPE, link="d/f", mode=0o4711, uid=9, gid=10, mtime=1000000009)
PY
find . -exec touch -h -d @1500000000 {} +
