//! Tests that the handles are the registry: each handle's Rust type fits its
//! kind, every handle is read somewhere in the workspace (or declared
//! `[informational]` or `[unimplemented]`, and then read nowhere), and no code reads a registered parameter by its
//! name as a string instead of through its handle.

use std::path::{Path, PathBuf};

use super::{handles, REGISTRY};

#[test]
fn handle_types_fit_their_kinds() {
    for (handle, name, fits) in handles() {
        assert!(fits, "{handle} ({name}): Rust type does not fit the kind");
    }
    assert_eq!(handles().len(), REGISTRY.len());
}

/// Every `.rs` file under `crates/*/src`, except this registry.
fn workspace_sources() -> Vec<(PathBuf, String)> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pending: Vec<PathBuf> = std::fs::read_dir(&crates)
        .expect("crates directory")
        .filter_map(|entry| entry.ok().map(|e| e.path().join("src")))
        .filter(|p| p.is_dir())
        .collect();
    let mut out = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)
                .expect("source directory")
                .flatten()
            {
                pending.push(entry.path());
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.ends_with("config/src/registry.rs")
            && !path.ends_with("config/src/registry_tests.rs")
        {
            let text = std::fs::read_to_string(&path).expect("readable source");
            out.push((path, text));
        }
    }
    out
}

/// Whether `word` occurs in `text` as a whole identifier (or path).
fn has_identifier(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[test]
fn every_handle_is_read_or_informational() {
    let sources = workspace_sources();
    assert!(sources.len() > 50, "workspace sources not found");
    let mut unread = Vec::new();
    let mut marked_but_read = Vec::new();
    for (handle, name, _) in handles() {
        let spec = REGISTRY
            .iter()
            .find(|p| p.name == name)
            .expect("registered");
        let qualified = format!("params::{handle}");
        let read = sources.iter().any(|(path, text)| {
            has_identifier(text, &qualified)
                || (path.to_string_lossy().contains("config/src") && has_identifier(text, handle))
        });
        if !read && !spec.informational {
            unread.push(handle);
        }
        if read && spec.informational {
            marked_but_read.push(handle);
        }
    }
    assert!(
        unread.is_empty(),
        "registered but read nowhere (read them or mark them [informational] or [unimplemented]): {unread:?}"
    );
    assert!(
        marked_but_read.is_empty(),
        "marked [informational] or [unimplemented] but read: {marked_but_read:?}"
    );
}

#[test]
fn no_parameter_is_read_by_string_name() {
    let readers = [".expanded(\"", ".raw(\"", ".origin(\"", ".default_raw(\""];
    let mut found = Vec::new();
    for (path, text) in workspace_sources() {
        if path.to_string_lossy().contains("tests") {
            continue;
        }
        for reader in readers {
            for (at, _) in text.match_indices(reader) {
                let rest = &text[at + reader.len()..];
                let name = rest.split('"').next().unwrap_or_default();
                if REGISTRY.iter().any(|p| p.name == name) {
                    found.push(format!("{}: {name}", path.display()));
                }
            }
        }
    }
    assert!(found.is_empty(), "read by name, not handle: {found:?}");
}
