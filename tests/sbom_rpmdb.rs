//! The rpm database's Berkeley DB (`Packages`) and ndb (`Packages.db`)
//! backends in the SBOM. Real databases only: the ndb one and a Berkeley DB
//! one written by rpm on SLE 15 and RHEL 8 (`testdata/rpmdb/README.md`),
//! and Berkeley DB ones made here by `db5.3_load` in both byte orders and
//! three page sizes from the header blobs that Debian's `rpm` writes. What
//! builder reads is compared with what rpm itself lists from the same file
//! (its `bdb_ro` backend, or the listing made in the SLE image).
//!
//! Needs root, busybox-static, rpm, db5.3-util and the SPDX validator
//! (`scripts/install-deps.sh`).

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use builder::attest::sbom::rpm::{self, bdb, ndb, Source};
use serde_json::Value;
use support::attest::{purls, rpm_db_of, validate_spdx, World};
use support::run_ok;

/// A zstd-compressed file of `testdata/rpmdb`, decompressed.
fn testdata(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/rpmdb")
        .join(name);
    zstd::decode_all(fs::File::open(p).unwrap()).unwrap()
}

/// The packages of a database as `rpm -qa --qf` lists them: `NAME EPOCH
/// VERSION-RELEASE ARCH`, sorted, and the reader's warnings.
type Reader = fn(&[u8], &mut dyn FnMut(&[u8]), &mut dyn FnMut(String)) -> Result<(), String>;

fn listing(read: Reader, db: &[u8]) -> (Result<Vec<String>, String>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let r = read(
        db,
        &mut |b| {
            if let Some(h) = rpm::parse_header(b) {
                let epoch = h.epoch.map_or("(none)".into(), |e| e.to_string());
                out.push(format!(
                    "{} {epoch} {}-{} {}",
                    h.name, h.version, h.release, h.arch
                ));
            }
        },
        &mut |w| warnings.push(w),
    );
    out.sort();
    (r.map(|()| out), warnings)
}

/// The two readers over a byte slice.
const READ_NDB: Reader = ndb::read::<[u8]>;
const READ_BDB: Reader = bdb::read::<[u8]>;

fn sorted_lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_string).collect();
    v.sort();
    v
}

/// What Debian's rpm lists from the Berkeley DB `Packages` file in `dir`.
fn rpm_bdb_ro(dir: &Path) -> Vec<String> {
    sorted_lines(&run_ok(
        Command::new("rpm")
            .arg("--dbpath")
            .arg(dir)
            .args(["--define", "_db_backend bdb_ro", "-qa", "--qf"])
            .arg("%{NAME} %|EPOCH?{%{EPOCH}}:{(none)}| %{VERSION}-%{RELEASE} %{ARCH}\\n")
            .stderr(Stdio::null()),
    ))
}

#[test]
fn ndb_database_of_sle15_reads_as_rpm_listed_it() {
    let db = testdata("sle15-bci.Packages.db.zst");
    let (got, warnings) = listing(READ_NDB, &db);
    let want = sorted_lines(
        &fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rpmdb/sle15-bci.rpm-qa.txt"),
        )
        .unwrap(),
    );
    assert_eq!(got.unwrap(), want);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(want.len(), 36);
}

#[test]
fn bdb_database_of_el8_reads_as_rpm_lists_it() {
    let db = testdata("el8-libuuid.Packages.zst");
    let (got, warnings) = listing(READ_BDB, &db);
    let want = vec!["libuuid (none) 2.32.1-42.el8_8 x86_64".to_string()];
    assert_eq!(got.unwrap(), want);
    assert!(warnings.is_empty(), "{warnings:?}");
    // And rpm agrees on this machine.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Packages"), &db).unwrap();
    assert_eq!(rpm_bdb_ro(dir.path()), want);
}

/// Two packages; the second header is large (a 20 KB description), so it
/// spans several overflow pages at every page size.
const PKGS: [(&str, &str, &str, Option<u32>, &str); 2] = [
    ("hello-attest", "1.2.3", "4", Some(1), "t"),
    ("big-attest", "0.9", "1.el7", None, ""),
];

/// The SQLite rpm database of [`PKGS`] in `dir/sqlite` and its header
/// blobs by `hnum`.
fn rpm_blobs(w: &World) -> Vec<(u32, Vec<u8>)> {
    let long = "a long description line for a big rpm header\n".repeat(450);
    let mut pkgs = PKGS;
    pkgs[1].4 = &long;
    rpm_db_of(&w.path("rpmwork"), &w.path("sqlite"), &pkgs);
    let conn = rusqlite::Connection::open(w.path("sqlite/rpmdb.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .unwrap();
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    rows.map(Result::unwrap).collect()
}

/// A Berkeley DB hash `Packages` in `dir` made by `db5.3_load` from
/// `blobs` (keys: `hnum` in the database's byte order, as rpm writes them).
fn db_load(dir: &Path, blobs: &[(u32, Vec<u8>)], big_endian: bool, page_size: u32) {
    fs::create_dir_all(dir).unwrap();
    let mut dump = String::from("VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n");
    for (hnum, blob) in blobs {
        let key = if big_endian {
            hnum.to_be_bytes()
        } else {
            hnum.to_le_bytes()
        };
        dump.push_str(&format!(" {}\n {}\n", hex::encode(key), hex::encode(blob)));
    }
    dump.push_str("DATA=END\n");
    fs::write(dir.join("dump.txt"), dump).unwrap();
    run_ok(
        Command::new("db5.3_load")
            .args(["-f"])
            .arg(dir.join("dump.txt"))
            .args(["-c", &format!("db_pagesize={page_size}")])
            .args([
                "-c",
                &format!("db_lorder={}", if big_endian { 4321 } else { 1234 }),
            ])
            .arg(dir.join("Packages")),
    );
    fs::remove_file(dir.join("dump.txt")).unwrap();
}

#[test]
fn bdb_databases_made_by_db_load_read_as_rpm_lists_them_in_both_byte_orders() {
    let w = World::new();
    let blobs = rpm_blobs(&w);
    let want = vec![
        "big-attest (none) 0.9-1.el7 noarch".to_string(),
        "hello-attest 1 1.2.3-4 noarch".to_string(),
    ];
    for (big_endian, page_size) in [(false, 4096), (true, 512), (true, 65536), (false, 512)] {
        let dir = w.path(&format!("bdb-{big_endian}-{page_size}"));
        db_load(&dir, &blobs, big_endian, page_size);
        let db = fs::read(dir.join("Packages")).unwrap();
        let magic = if big_endian {
            [0, 6, 0x15, 0x61]
        } else {
            [0x61, 0x15, 6, 0]
        };
        assert_eq!(db[12..16], magic, "{dir:?} is not in the asked byte order");
        assert_eq!(rpm_bdb_ro(&dir), want, "rpm's own reading of {dir:?}");
        let (got, warnings) = listing(READ_BDB, &db);
        assert_eq!(got.unwrap(), want, "{dir:?}");
        assert!(warnings.is_empty(), "{warnings:?}");
        // The file reader (pread per page) gives the same as the slice one.
        let file = fs::File::open(dir.join("Packages")).unwrap();
        let src = rpm::FileSource(file, db.len() as u64);
        let mut n = 0;
        bdb::read(
            &src,
            &mut |b| n += usize::from(rpm::parse_header(b).is_some()),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(n, 2);
    }
}

/// Overflow pages of a Berkeley DB database and their `next` fields.
fn overflow_pages(db: &[u8]) -> Vec<(usize, u32)> {
    let page_size = u32::from_le_bytes(db[20..24].try_into().unwrap()) as usize;
    (1..db.len() / page_size)
        .filter(|p| db[p * page_size + 25] == 7)
        .map(|p| {
            let at = p * page_size + 16;
            (p, u32::from_le_bytes(db[at..at + 4].try_into().unwrap()))
        })
        .collect()
}

#[test]
fn damaged_databases_give_errors_or_warnings_never_a_panic_nor_a_hang() {
    let started = Instant::now();
    let el8 = testdata("el8-libuuid.Packages.zst");
    let sle = testdata("sle15-bci.Packages.db.zst");
    // An overflow chain that loops back on itself, and one cut short.
    let chain = overflow_pages(&el8);
    let (page, next) = *chain.iter().find(|(_, n)| *n != 0).unwrap();
    let page_size = 4096;
    let mut looped = el8.clone();
    looped[page * page_size + 16..page * page_size + 20]
        .copy_from_slice(&(page as u32).to_le_bytes());
    let (got, warnings) = listing(READ_BDB, &looped);
    assert_eq!(got.unwrap(), Vec::<String>::new());
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("loops") || w.contains("longer")),
        "{warnings:?}"
    );
    let mut cut = el8.clone();
    cut.truncate(next as usize * page_size);
    let (got, _) = listing(READ_BDB, &cut);
    assert!(got.map_or(true, |g| g.is_empty()));
    // Huge counts: slot pages, a slot's block count, a hash page's entries.
    let mut huge = sle.clone();
    huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(listing(READ_NDB, &huge).0.is_err());
    let mut huge = sle.clone();
    let slot = 32; // the first slot after the header
    huge[slot + 12..slot + 16].copy_from_slice(&(u32::MAX / 2).to_le_bytes());
    let (got, warnings) = listing(READ_NDB, &huge);
    assert!(got.is_err() || warnings.len() == 1, "{warnings:?}");
    // Truncations and byte flips anywhere: an error or fewer packages.
    for (read, db) in [(READ_BDB, &el8), (READ_NDB, &sle)] {
        let full = listing(read, db).0.unwrap().len();
        for len in (0..db.len()).step_by(db.len() / 97 + 1) {
            let (got, _) = listing(read, &db[..len]);
            assert!(got.map_or(true, |g| g.len() <= full));
        }
        for at in (0..db.len()).step_by(db.len() / 301 + 1) {
            for byte in [0x00, 0xff, 0x07, 0x80] {
                let mut bad = db.clone();
                bad[at] = byte;
                let _ = listing(read, &bad);
            }
        }
    }
    // Garbage and empty input.
    for garbage in [&[][..], &[0u8; 10][..], &[0xffu8; 70_000][..]] {
        assert!(listing(READ_BDB, garbage).0.is_err());
        assert!(listing(READ_NDB, garbage).0.is_err());
    }
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
}

/// The SPDX document of `tag`'s SBOM (`builder inspect`).
fn sbom_doc(w: &World, tag: &str) -> Value {
    let out: Value = serde_json::from_str(&run_ok(w.builder().args(["inspect", tag]))).unwrap();
    out["Attestations"][0]["Statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["predicateType"] == "https://spdx.dev/Document")
        .unwrap()["predicate"]
        .clone()
}

/// Builds `ctx` as `tag` with an SBOM; its SPDX document, after checking
/// that its purls include every one of `want`.
fn built_sbom(w: &World, ctx: &Path, tag: &str, want: &[&str]) -> Value {
    run_ok(
        w.builder()
            .args(["build", "--sbom=true", "--provenance=false", "-t", tag])
            .arg(ctx),
    );
    let doc = sbom_doc(w, tag);
    let found = purls(&doc);
    for want in want {
        assert!(found.iter().any(|p| p == want), "{want} not in {found:?}");
    }
    doc
}

fn package<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in the SBOM"))
}

#[test]
fn sbom_lists_packages_of_berkeley_db_and_ndb_databases_and_validates() {
    let w = World::new();
    w.import("base:1", &support::busybox_rootfs("attest-busybox-rootfs"));
    // CentOS 7's layout: /var/lib/rpm/Packages, big-endian with 512-byte
    // pages (the hardest case: swapped fields, chains of many pages).
    let ctx = w.context(
        "bdb",
        "FROM base:1\nCOPY os-release /etc/os-release\nCOPY rpm/Packages /var/lib/rpm/Packages\n",
        &[(
            "os-release",
            "NAME=\"CentOS Linux\"\nID=\"centos\"\nVERSION_ID=\"7\"\n",
        )],
    );
    db_load(&ctx.join("rpm"), &rpm_blobs(&w), true, 512);
    let doc = built_sbom(
        &w,
        &ctx,
        "bdb:1",
        &[
            "pkg:rpm/centos/hello-attest@1.2.3-4?arch=noarch&distro=centos-7&epoch=1\
             &upstream=hello-attest-1.2.3-4.src.rpm",
            "pkg:rpm/centos/big-attest@0.9-1.el7?arch=noarch&distro=centos-7\
             &upstream=big-attest-0.9-1.el7.src.rpm",
        ],
    );
    assert_eq!(package(&doc, "hello-attest")["versionInfo"], "1:1.2.3-4");
    assert_eq!(
        package(&doc, "big-attest")["supplier"],
        "Person: Builder Tests"
    );
    validate_spdx(&w, &doc, "bdb.spdx.json");

    // openSUSE's layout: the database in /usr/lib/sysimage/rpm and
    // /var/lib/rpm a symlink to it (absolute here: it must not be followed
    // on the host).
    let ctx = w.context(
        "ndb",
        "FROM base:1\nCOPY os-release /etc/os-release\n\
         COPY Packages.db /usr/lib/sysimage/rpm/Packages.db\n\
         RUN mkdir -p /var/lib && ln -s /usr/lib/sysimage/rpm /var/lib/rpm\n",
        &[(
            "os-release",
            "NAME=\"SLES\"\nID=\"sles\"\nVERSION_ID=\"15.3\"\n",
        )],
    );
    fs::write(
        ctx.join("Packages.db"),
        testdata("sle15-bci.Packages.db.zst"),
    )
    .unwrap();
    let doc = built_sbom(
        &w,
        &ctx,
        "ndb:1",
        &[
            "pkg:rpm/sles/glibc@2.31-150300.41.1?arch=x86_64&distro=sles-15.3\
             &upstream=glibc-2.31-150300.41.1.src.rpm",
            "pkg:rpm/sles/system-user-root@20190513-3.3.1?arch=noarch&distro=sles-15.3\
             &upstream=system-user-root-20190513-3.3.1.src.rpm",
        ],
    );
    let rpms = purls(&doc);
    let rpms: Vec<&String> = rpms.iter().filter(|p| p.starts_with("pkg:rpm/")).collect();
    assert_eq!(rpms.len(), 36, "{rpms:?}");
    let glibc = package(&doc, "glibc");
    assert_eq!(glibc["versionInfo"], "2.31-150300.41.1");
    assert!(
        glibc["sourceInfo"]
            .as_str()
            .unwrap()
            .ends_with("/usr/lib/sysimage/rpm/Packages.db"),
        "{glibc}"
    );
    validate_spdx(&w, &doc, "ndb.spdx.json");
}

/// `Source` is implemented for slices; the trait is what the readers take.
#[test]
fn slice_source_refuses_reads_past_the_end() {
    let data = [1u8, 2, 3];
    let mut buf = [0u8; 2];
    assert!(Source::read_at(&data[..], &mut buf, 1).is_ok());
    assert_eq!(buf, [2, 3]);
    assert!(Source::read_at(&data[..], &mut buf, 2).is_err());
    assert!(Source::read_at(&data[..], &mut buf, u64::MAX).is_err());
}
