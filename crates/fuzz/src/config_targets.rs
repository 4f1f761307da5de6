//! main.cf and master.cf readers.

use gatepost_config::{postconf, Config, PostconfMode};

/// main.cf: no panic reading, validating, expanding every set parameter
/// (`$name` references, cycles included) and printing `postconf`; what
/// `postconf -n` prints reads back to the same explicit settings.
pub fn main_cf(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let Ok(cfg) = Config::parse_main_cf(&text, "main.cf") else {
        return;
    };
    for (name, _) in cfg.explicit() {
        let _ = cfg.expanded(&name);
    }
    let _ = postconf(&cfg, PostconfMode::Current, &[], false);
    let Ok(printed) = postconf(&cfg, PostconfMode::NonDefault, &[], false) else {
        return;
    };
    let again = Config::parse_main_cf(&printed, "main.cf")
        .unwrap_or_else(|e| panic!("postconf -n output does not load: {e}\n{printed}"));
    assert_eq!(cfg.explicit(), again.explicit(), "postconf -n:\n{printed}");
}

/// master.cf (with an empty main.cf): no panic; every service it yields has
/// a name.
pub fn master_cf(input: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    if std::fs::write(dir.path().join("main.cf"), "").is_err()
        || std::fs::write(dir.path().join("master.cf"), input).is_err()
    {
        return;
    }
    if let Ok(cfg) = Config::load_dir(dir.path()) {
        for (name, _) in cfg.explicit() {
            let _ = cfg.expanded(&name);
        }
        let _ = cfg.services();
    }
}
