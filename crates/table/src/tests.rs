//! Crate-level tests through the public entry points: every table type via
//! `open_table`, `postmap` build + query round trip, error texts.

use std::fs;

use crate::{open_table, postmap_build, postmap_build_report, postmap_query, TableKind};

struct Fixture {
    _dir: tempfile::TempDir,
    path: String,
}

fn fixture(name: &str, content: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    fs::write(&path, content).unwrap();
    Fixture {
        path: path.to_str().unwrap().to_string(),
        _dir: dir,
    }
}

#[test]
fn every_table_type() {
    let access = fixture("access", "Example.COM REJECT\n1.2.3 OK\n");
    let cidr = fixture("nets.cidr", "192.0.2.0/24 OK\n");
    let re = fixture("checks.re", "/^(.*)@spam\\.example$/ REJECT $1\n");
    postmap_build(&format!("hash:{}", access.path)).unwrap();
    let p = &access.path;
    // (spec, kind, key, expected)
    let cases: Vec<(String, TableKind, &str, Option<&str>)> = vec![
        (
            "inline:{ a=1, { b = two words } }".into(),
            TableKind::Exact,
            "B",
            Some("two words"),
        ),
        ("inline:{ a=1 }".into(), TableKind::Exact, "c", None),
        (
            "static:{550 5.7.1 static says no}".into(),
            TableKind::Exact,
            "x",
            Some("550 5.7.1 static says no"),
        ),
        ("static:OK".into(), TableKind::Exact, "x", Some("OK")),
        (
            format!("texthash:{p}"),
            TableKind::Exact,
            "example.com",
            Some("REJECT"),
        ),
        (
            format!("hash:{p}"),
            TableKind::Exact,
            "EXAMPLE.com",
            Some("REJECT"),
        ),
        (format!("btree:{p}"), TableKind::Exact, "1.2.3", Some("OK")),
        (format!("lmdb:{p}"), TableKind::Exact, "1.2.3", Some("OK")),
        (format!("cdb:{p}"), TableKind::Exact, "nope", None),
        (format!("dbm:{p}"), TableKind::Exact, "1.2.3", Some("OK")),
        (
            format!("proxy:hash:{p}"),
            TableKind::Exact,
            "1.2.3",
            Some("OK"),
        ),
        (
            format!("cidr:{}", cidr.path),
            TableKind::Cidr,
            "192.0.2.9",
            Some("OK"),
        ),
        (
            format!("cidr:{}", cidr.path),
            TableKind::Cidr,
            "192.0.3.9",
            None,
        ),
        (
            format!("regexp:{}", re.path),
            TableKind::Pattern,
            "Joe@SPAM.example",
            Some("REJECT Joe"),
        ),
        (
            format!("pcre:{}", re.path),
            TableKind::Pattern,
            "joe@spam.example",
            Some("REJECT joe"),
        ),
        (
            format!("pcre:{}", re.path),
            TableKind::Pattern,
            "joe@ham.example",
            None,
        ),
    ];
    for (spec, kind, key, want) in cases {
        let t = open_table(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(t.kind(), kind, "{spec}");
        assert_eq!(t.name(), spec);
        assert_eq!(t.lookup(key).unwrap().as_deref(), want, "{spec} {key}");
    }
    let t = open_table("unix:passwd.byname").unwrap();
    assert_eq!(t.kind(), TableKind::Exact);
}

#[test]
fn open_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let m = missing.to_str().unwrap();
    let cases = [
        (
            format!("hash:{m}"),
            format!("hash:{m}: open database {m}.db: No such file or directory"),
        ),
        (
            format!("proxy:btree:{m}"),
            format!("proxy:btree:{m}: open database {m}.db: No such file or directory"),
        ),
        (
            format!("texthash:{m}"),
            format!("texthash:{m}: open database {m}: No such file or directory"),
        ),
        (
            format!("cidr:{m}"),
            format!("cidr:{m}: open {m}: No such file or directory"),
        ),
        (
            format!("regexp:{m}"),
            format!("regexp:{m}: open {m}: No such file or directory"),
        ),
        (
            "nis:foo".to_string(),
            "nis:foo: unsupported dictionary type: nis".to_string(),
        ),
        (
            "hash:".to_string(),
            "hash:: open dictionary: expecting \"type:name\" form instead of \"hash:\"".to_string(),
        ),
        (
            "unix:group.bygid".to_string(),
            "unix:group.bygid: unknown table: unix:group.bygid".to_string(),
        ),
    ];
    for (spec, want) in cases {
        let err = open_table(&spec).unwrap_err();
        assert!(!err.is_temporary(), "{spec}");
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn postmap_round_trip() {
    let src = fixture(
        "transport",
        "# transport map\nexample.com smtp:[relay.example]:587\nEXAMPLE.com dup\n\
         long   first part\n   second part\nbadline\n",
    );
    let p = &src.path;
    assert!(crate::db_is_stale(p), "no .db yet");
    let warnings = postmap_build_report(&format!("hash:{p}")).unwrap();
    assert_eq!(
        warnings,
        vec![
            format!("{p}, line 6: expected format: key whitespace value"),
            format!("hash:{p}: duplicate entry: \"example.com\""),
        ]
    );
    let cases = [
        ("example.com", Some("smtp:[relay.example]:587")),
        ("LONG", Some("first part   second part")),
        ("badline", None),
    ];
    for (key, want) in cases {
        assert_eq!(
            postmap_query(&format!("hash:{p}"), key).unwrap().as_deref(),
            want,
            "{key}"
        );
    }
    // Without a type: default_database_type = hash.
    postmap_build(p).unwrap();
    assert!(!crate::db_is_stale(p));
    // The source is never recompiled automatically.
    fs::write(p, "example.com changed\n").unwrap();
    assert_eq!(
        postmap_query(&format!("hash:{p}"), "example.com")
            .unwrap()
            .as_deref(),
        Some("smtp:[relay.example]:587")
    );
    postmap_build(&format!("hash:{p}")).unwrap();
    assert_eq!(
        postmap_query(&format!("hash:{p}"), "example.com")
            .unwrap()
            .as_deref(),
        Some("changed")
    );
    let err = postmap_build(&format!("regexp:{p}")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("regexp:{p}: unsupported dictionary type: regexp")
    );
    let err = postmap_build("hash:/nonexistent/gatepost/src").unwrap_err();
    assert_eq!(
        err.to_string(),
        "hash:/nonexistent/gatepost/src: open /nonexistent/gatepost/src: No such file or directory"
    );
}

#[test]
fn temporary_failure_at_lookup() {
    let src = fixture("access", "a OK\n");
    let spec = format!("hash:{}", src.path);
    postmap_build(&spec).unwrap();
    let t = open_table(&spec).unwrap();
    assert_eq!(t.lookup("a").unwrap().as_deref(), Some("OK"));
    let db = format!("{}.gpdb", src.path);
    fs::remove_file(&db).unwrap();
    fs::create_dir(&db).unwrap();
    let err = t.lookup("a").unwrap_err();
    assert!(err.is_temporary(), "{err}");
}
