python3 - <<'PY'
import tarfile, io
def add(t, name, data=b"x\n", typ=tarfile.REGTYPE, link="", mode=0o644):
    i = tarfile.TarInfo(name); i.type = typ; i.mtime = 1200000000; i.mode = mode; i.linkname = link
    if typ == tarfile.REGTYPE:
        i.size = len(data); t.addfile(i, io.BytesIO(data))
    else:
        t.addfile(i)
with tarfile.open("arc.tar", "w", format=tarfile.GNU_FORMAT) as t:
    add(t, "dir-to-file", data=b"now a file\n")
    add(t, "file-to-dir", typ=tarfile.DIRTYPE, mode=0o750)
    add(t, "file-to-dir/in")
    add(t, "dir-keep", typ=tarfile.DIRTYPE, mode=0o700)
    add(t, "dir-keep/new")
    add(t, "link/through")
PY
find . -exec touch -h -d @1500000000 {} +
