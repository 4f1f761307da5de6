//! Each fuzz target replays its seed corpus, then runs on random inputs for
//! a short while (bolero's random engine; `BOLERO_RANDOM_TEST_TIME_MS` or
//! `BOLERO_RANDOM_ITERATIONS` make it longer, see fuzz/run-long.sh).

use std::time::Duration;

/// Random-input time per target in the normal test run.
const SMOKE: Duration = Duration::from_millis(250);

/// Run the seed corpus; return its inputs for mutation.
fn replay(target: &str, run: fn(&[u8])) -> Vec<Vec<u8>> {
    let corpus = gatepost_fuzz::corpus(target);
    assert!(!corpus.is_empty(), "no seed corpus for {target}");
    let mut seeds = Vec::new();
    for (name, bytes) in corpus {
        let outcome = std::panic::catch_unwind(|| run(&bytes));
        assert!(outcome.is_ok(), "{target}: corpus input {name} failed");
        seeds.push(bytes);
    }
    seeds
}

macro_rules! target {
    ($name:ident) => {
        #[test]
        fn $name() {
            let seeds = replay(stringify!($name), gatepost_fuzz::$name);
            bolero::check!()
                .with_test_time(SMOKE)
                .for_each(|input: &[u8]| {
                    // Odd first byte: raw random bytes; even: a mutated seed.
                    match input.split_first() {
                        Some((b, rest)) if b % 2 == 0 => {
                            let mutated = gatepost_fuzz::mutate(&seeds, rest);
                            gatepost_fuzz::$name(&mutated)
                        }
                        _ => gatepost_fuzz::$name(input),
                    }
                });
        }
    };
}

target!(smtp_command);
target!(address);
target!(data_reader);
target!(data_round_trip);
target!(main_cf);
target!(master_cf);
target!(indexed_tables);
target!(compiled_table);
target!(regexp_table);
target!(cidr_table);
target!(inline_table);
target!(queue_file);
target!(postfix_queue_file);
target!(dns_reply);
