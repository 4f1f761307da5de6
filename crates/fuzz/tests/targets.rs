//! Each fuzz target replays its seed corpus, then runs on generated
//! inputs. In the normal test run those come from a fixed-seed generator,
//! so that a run passes or fails for everyone alike, whatever the machine;
//! a long run (fuzz/run-long.sh: `BOLERO_RANDOM_TEST_TIME_MS` or
//! `BOLERO_RANDOM_ITERATIONS`, or `BOLERO_RANDOM_SEED` to replay what it
//! found) hands them to bolero's random engine instead, for new ground.

/// Generated inputs per target in the normal test run (a few seconds at
/// most each in a debug build; found the arrival-time bug of the queue
/// file reader at input 3,560 when it was put back). Targets that build
/// tables from each input run fewer.
const SMOKE_INPUTS: u64 = 5_000;

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

/// Whether the environment asks for bolero's random engine.
fn random_run() -> bool {
    [
        "BOLERO_RANDOM_TEST_TIME_MS",
        "BOLERO_RANDOM_ITERATIONS",
        "BOLERO_RANDOM_SEED",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some())
}

/// The `n`th generated input (splitmix64 from a fixed seed): up to 512
/// bytes, shorter ones more often.
fn generated(n: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(n + 1);
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let len = (next() % 513) >> (next() % 4);
    (0..len).map(|_| next() as u8).collect()
}

/// One input: odd first byte, the raw bytes; even, a seed mutated by the
/// rest.
fn run_one(seeds: &[Vec<u8>], run: fn(&[u8]), input: &[u8]) {
    match input.split_first() {
        Some((b, rest)) if b % 2 == 0 => run(&gatepost_fuzz::mutate(seeds, rest)),
        _ => run(input),
    }
}

macro_rules! target {
    ($name:ident) => {
        target!($name, SMOKE_INPUTS);
    };
    ($name:ident, $inputs:expr) => {
        #[test]
        fn $name() {
            let seeds = replay(stringify!($name), gatepost_fuzz::$name);
            if random_run() {
                bolero::check!()
                    .for_each(|input: &[u8]| run_one(&seeds, gatepost_fuzz::$name, input));
            } else {
                for n in 0..$inputs {
                    let input = generated(n);
                    let outcome =
                        std::panic::catch_unwind(|| run_one(&seeds, gatepost_fuzz::$name, &input));
                    assert!(
                        outcome.is_ok(),
                        "{}: generated input {n} failed: {input:02x?}",
                        stringify!($name)
                    );
                }
            }
        }
    };
}

target!(smtp_command);
target!(address);
target!(data_reader);
target!(data_round_trip);
target!(main_cf);
target!(master_cf);
target!(indexed_tables, 1_000);
target!(compiled_table);
target!(regexp_table);
target!(cidr_table);
target!(inline_table);
target!(queue_file);
target!(postfix_queue_file);
target!(dns_reply);
