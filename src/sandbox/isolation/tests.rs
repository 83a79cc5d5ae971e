//! Level choice and the `builder info` report, from made-up probes.

use super::*;

fn probe(euid: u32, sys_admin: bool, userns: bool) -> Probe {
    Probe {
        euid,
        egid: euid,
        user: None,
        sys_admin,
        set_ids: euid == 0,
        in_userns: false,
        userns: if userns {
            Ok(())
        } else {
            Err("unshare(CLONE_NEWUSER): Operation not permitted".into())
        },
        kernel: "6.1.0-18-amd64".into(),
        newuidmap: None,
        newgidmap: None,
        subuid: vec![],
        subgid: vec![],
    }
}

#[test]
fn auto_picks_the_best_level() {
    let (l, _) = probe(0, true, true).choose(Choice::Auto).unwrap();
    assert_eq!(l, Level::Namespaces);
    let (l, _) = probe(1000, false, true).choose(Choice::Auto).unwrap();
    assert_eq!(l, Level::Rootless(IdMap::Single));
    let (l, _) = probe(0, false, true).choose(Choice::Auto).unwrap();
    assert_eq!(l, Level::Rootless(IdMap::Identity), "root keeps its ids");
    let (l, why) = probe(0, false, false).choose(Choice::Auto).unwrap();
    assert_eq!(l, Level::Chroot);
    assert!(why.contains("root without CAP_SYS_ADMIN"), "{why}");
    assert!(why.contains("Operation not permitted"), "{why}");
    let e = probe(1000, false, false)
        .choose(Choice::Auto)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs root") && e.contains("hostUsers: false"),
        "not root and no user namespaces: nothing works: {e}"
    );
    assert!(probe(1000, false, true).choose(Choice::Chroot).is_err());
}

#[test]
fn forcing_an_unavailable_level_explains_the_fixes() {
    let e = probe(1000, false, true)
        .choose(Choice::Namespaces)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("CAP_SYS_ADMIN") && e.contains("hostUsers: false"),
        "{e}"
    );
    let e = probe(0, false, false)
        .choose(Choice::Rootless)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("seccomp=unconfined") && e.contains("subuid"),
        "{e}"
    );
    let mut old = probe(1000, false, true);
    old.kernel = "5.10.0".into();
    let e = old.choose(Choice::Rootless).unwrap_err().to_string();
    assert!(e.contains("5.11"), "{e}");
}

#[test]
fn ranges_and_tools_give_a_range_map() {
    let mut p = probe(1000, false, true);
    p.subuid = vec![IdRange {
        start: 100000,
        count: 65536,
    }];
    p.subgid = p.subuid.clone();
    assert_eq!(p.id_map(), IdMap::Single, "no newuidmap: single map");
    assert!(p.single_map_warning().unwrap().contains("uidmap"));
    p.newuidmap = Some("/usr/bin/newuidmap".into());
    p.newgidmap = Some("/usr/bin/newgidmap".into());
    assert!(matches!(p.id_map(), IdMap::Ranges { .. }));
    assert!(p.single_map_warning().is_none());
    let text = report(&p, Choice::Auto, Path::new("/s"));
    assert!(text.starts_with("isolation: rootless\n"), "{text}");
    assert!(
        text.contains("subuid ranges: 100000-165535 (65536)"),
        "{text}"
    );
}
