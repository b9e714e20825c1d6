//! The checker's own tests: known-good and known-bad histories, generated ones.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use Outcome::{Done, Unknown, Version};

fn at(client: u64, op: Op, outcome: Outcome, call: u64, ret: u64) -> Entry {
    let key = "/k".to_owned();
    Entry {
        client,
        key,
        op,
        outcome,
        call,
        ret,
    }
}
fn read(client: u64, seen: Option<(&str, i32)>, call: u64, ret: u64) -> Entry {
    let seen = seen.map(|(s, n)| (s.as_bytes().to_vec(), n));
    at(client, Op::Read, Outcome::Value(seen), call, ret)
}
fn write(value: &str) -> Op {
    let value = value.as_bytes().to_vec();
    Op::Write { value }
}
fn create(value: &str) -> Op {
    let value = value.as_bytes().to_vec();
    Op::Create { value }
}
fn cas(value: &str, expected_version: i32) -> Op {
    let value = value.as_bytes().to_vec();
    Op::Cas {
        value,
        expected_version,
    }
}
fn delete(expected_version: Option<i32>) -> Op {
    Op::Delete { expected_version }
}
fn error(e: OpError) -> Outcome {
    Outcome::Error(e)
}
fn rejected(history: &[Entry]) -> Counterexample {
    match check(history) {
        Err(Violation::NotLinearizable(c)) => *c,
        other => panic!("expected a violation, got {other:?}"),
    }
}

#[test]
fn sequential_history_is_linearizable() {
    let history = [
        read(1, None, 0, 1),
        at(1, create("a"), Done, 2, 3),
        at(2, create("x"), error(OpError::NodeExists), 4, 5),
        at(2, write("b"), Version(1), 6, 7),
        at(1, cas("c", 1), Version(2), 8, 9),
        at(2, cas("d", 1), error(OpError::BadVersion), 10, 11),
        read(1, Some(("c", 2)), 12, 13),
        at(1, delete(Some(1)), error(OpError::BadVersion), 14, 15),
        at(1, delete(Some(2)), Done, 16, 17),
        at(2, write("e"), error(OpError::NoNode), 18, 19),
        at(2, Op::Read, error(OpError::NoNode), 20, 21),
    ];
    let report = check(&history).expect("linearizable");
    assert_eq!(
        (report.total_ops(), report.total_unknown()),
        (history.len(), 0)
    );
}

#[test]
fn concurrent_write_and_read_may_order_either_way() {
    for seen in [("a", 0), ("b", 1)] {
        let history = [
            at(1, create("a"), Done, 0, 1),
            at(1, write("b"), Version(1), 10, 30),
            read(2, Some(seen), 15, 25),
        ];
        check(&history).expect("either order");
    }
}

#[test]
fn reads_cannot_observe_concurrent_writes_in_both_orders() {
    let history = [
        at(1, create("a"), Done, 0, 1),
        at(1, write("b"), Version(2), 10, 20),
        at(2, write("c"), Version(1), 10, 20),
        read(3, Some(("b", 2)), 30, 40),
        read(3, Some(("c", 1)), 50, 60),
    ];
    rejected(&history);
}

#[test]
fn stale_read_is_rejected() {
    let history = [
        at(1, create("a"), Done, 0, 1),
        at(1, write("b"), Version(1), 2, 3),
        at(1, write("c"), Version(2), 4, 5),
        read(2, Some(("b", 1)), 6, 7),
    ];
    let c = rejected(&history);
    assert_eq!((c.key.as_str(), &c.stuck), ("/k", &history[3]));
    assert_eq!(c.state, Some((b"c".to_vec(), 2)));
}

#[test]
fn lost_acknowledged_write_is_rejected() {
    let checker = Checker::new().initial_state("/k", Some((b"a".to_vec(), 3)));
    let acked = at(1, write("b"), Version(4), 0, 10);
    let history = [acked.clone(), read(2, Some(("a", 3)), 20, 30)];
    let result = checker.check(&history);
    assert!(
        matches!(result, Err(Violation::NotLinearizable(_))),
        "{result:?}"
    );
    // Overlapping the write, the read may come first.
    let overlapping = [acked, read(2, Some(("a", 3)), 5, 30)];
    checker.check(&overlapping).expect("read before write");
}

#[test]
fn two_cas_with_same_expected_version_both_succeeding_is_rejected() {
    let history = [
        at(1, create("a"), Done, 0, 1),
        at(1, cas("b", 0), Version(1), 10, 20),
        at(2, cas("c", 0), Version(1), 10, 20),
    ];
    rejected(&history);
}

#[test]
fn read_of_value_never_written_is_rejected() {
    let history = [
        at(1, create("a"), Done, 0, 10),
        read(2, Some(("z", 0)), 5, 15),
    ];
    assert_eq!(rejected(&history).stuck, history[1]);
}

#[test]
fn create_succeeding_twice_without_delete_is_rejected() {
    let history = [
        at(1, create("a"), Done, 0, 10),
        at(2, create("b"), Done, 5, 15),
    ];
    rejected(&history);
}

#[test]
fn read_after_completed_delete_seeing_node_is_rejected() {
    let history = [
        at(1, create("a"), Done, 0, 1),
        at(1, delete(None), Done, 2, 3),
        read(2, Some(("a", 0)), 4, 5),
    ];
    rejected(&history);
}

#[test]
fn unknown_write_later_read_is_accepted() {
    let history = [
        at(1, create("a"), Done, 0, 1),
        at(1, write("b"), Unknown, 2, 0),
        read(2, Some(("a", 0)), 10, 11),
        read(2, Some(("b", 1)), 100, 101),
        at(2, write("c"), Version(2), 102, 103),
    ];
    let report = check(&history).expect("the unknown write took effect late");
    assert_eq!(report.keys["/k"].unknown, 1);
}

#[test]
fn unknown_write_never_observed_is_accepted() {
    let history = [
        at(1, create("a"), Done, 0, 1),
        at(1, write("b"), Unknown, 2, 3),
        at(1, Op::Read, Unknown, 4, 5),
        read(2, Some(("a", 0)), 10, 11),
        at(2, write("c"), Version(1), 12, 13),
        read(2, Some(("c", 1)), 14, 15),
    ];
    check(&history).expect("the unknown write never happened");
}

#[test]
fn value_from_unknown_write_observed_before_its_call_is_rejected() {
    let history = [
        at(1, create("a"), Done, 0, 1),
        read(2, Some(("b", 1)), 10, 11),
        at(1, write("b"), Unknown, 20, 0),
    ];
    assert_eq!(rejected(&history).stuck, history[1]);
}

#[test]
fn unknown_writes_count_toward_versions_each_at_most_once() {
    let mut history = vec![at(1, create("a"), Done, 0, 1)];
    history.extend((0..3).map(|i| at(i, write("lost"), Unknown, 2 + i, 0)));
    for (version, linearizable) in [(1, true), (3, true), (4, true), (5, false)] {
        history.push(at(4, write("z"), Version(version), 10, 11));
        assert_eq!(check(&history).is_ok(), linearizable, "version {version}");
        history.pop();
    }
}

#[test]
fn keys_are_checked_independently() {
    let mut other = at(2, create("a"), Done, 2, 3);
    other.key = "/other".into();
    let mut history = vec![at(1, create("a"), Done, 0, 1), other.clone()];
    other.outcome = error(OpError::NodeExists);
    history.push(other);
    assert_eq!(check(&history).expect("independent").keys.len(), 2);
    history.push(at(3, create("b"), Done, 10, 11));
    let text = Violation::NotLinearizable(Box::new(rejected(&history))).to_string();
    assert!(text.starts_with("key \"/k\""), "{text}");
    assert!(
        text.contains("cannot be placed: client 3 /k create \"b\" -> ok"),
        "{text}"
    );
}

#[test]
fn malformed_entries_are_reported() {
    for entry in [read(1, None, 10, 5), at(1, Op::Read, Done, 0, 1)] {
        let result = check(&[entry]);
        assert!(
            matches!(result, Err(Violation::InvalidEntry { .. })),
            "{result:?}"
        );
    }
}

#[test]
fn exceeding_the_state_budget_is_inconclusive() {
    let result = Checker::new()
        .max_states(10)
        .check(&generate(7, 200, 1, 0.0));
    let expected = matches!(result, Err(Violation::Inconclusive { explored: 10, .. }));
    assert!(expected, "{result:?}");
}

#[test]
fn recorder_stamps_calls_and_returns_from_one_clock() {
    let history = History::new();
    let first = history.begin(1, "/k", create("a"));
    let second = history.clone().begin(2, "/k", Op::Read);
    first.end(Done);
    drop(second); // e.g. a cancelled task: recorded as unknown
    let entries = history.entries();
    assert_eq!(entries.len(), 2);
    assert!(entries[0].call <= entries[1].call && entries[1].call <= entries[0].ret);
    assert_eq!(entries[1].outcome, Unknown);
    check(&entries).expect("linearizable");
}

/// A linearizable history over four keys: `clients` sequential clients with random
/// overlapping intervals, each op taking effect at a random point inside its interval on a
/// real register. A fraction `unknown` of updates time out: they take effect later or never.
fn generate(seed: u64, per_client: usize, clients: u64, unknown: f64) -> Vec<Entry> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut planned, mut history) = (vec![], vec![]);
    for client in 0..clients {
        let mut t = rng.gen_range(0..100u64);
        for i in 0..per_client {
            let value = format!("c{client}-{i}");
            let op = match rng.gen_range(0..100) {
                0..35 => Op::Read,
                35..55 => write(&value),
                55..70 => cas(&value, rng.gen_range(-1..3)),
                70..85 => create(&value),
                _ => delete(rng.gen_bool(0.5).then(|| rng.gen_range(0..3))),
            };
            let (call, ret) = (t, t + rng.gen_range(1..=50));
            let lost = op != Op::Read && rng.gen_bool(unknown);
            let effect = match lost {
                false => Some(rng.gen_range(call..=ret)),
                true => rng.gen_bool(0.5).then(|| call + rng.gen_range(0..300)),
            };
            let mut entry = at(client, op, Unknown, call * 1000, ret * 1000);
            entry.key = format!("/{}", rng.gen_range(0..4));
            planned.extend(effect.map(|effect| (effect, history.len(), lost)));
            history.push(entry);
            t = ret + rng.gen_range(0..20);
        }
    }
    planned.sort_unstable();
    let mut registers: HashMap<String, Register> = HashMap::new();
    for (_, i, lost) in planned {
        let entry = &mut history[i];
        let register = registers.entry(entry.key.clone()).or_default();
        let mut interner = Interner::default();
        let state = interner.state(register);
        let (next, result) = apply(state, model_op(&entry.op, |v| interner.id(v)));
        *register = interner.register(next);
        if !lost {
            entry.outcome = match result {
                MRes::Value(s) => Outcome::Value(interner.register(s)),
                MRes::Version(n) => Version(n),
                MRes::Done => Done,
                MRes::Error(e) => error(e),
            };
        }
    }
    history
}

#[test]
fn generated_concurrent_history_is_linearizable_within_default_budget() {
    let history = generate(42, 400, 5, 0.02);
    assert_eq!(history.len(), 2000);
    let report = check(&history).expect("generated history is linearizable");
    assert_eq!(report.keys.len(), 4);
    assert!(report.total_unknown() > 0);
    assert!(report.total_states() < DEFAULT_MAX_STATES);
}

#[test]
fn generated_history_with_corrupted_read_is_rejected() {
    let mut history = generate(42, 400, 5, 0.02);
    let target = (history.len() / 2..history.len())
        .find(|&i| matches!(history[i].outcome, Outcome::Value(Some(_))))
        .expect("a read that saw a node");
    if let Outcome::Value(Some((value, _))) = &mut history[target].outcome {
        *value = b"corrupted".to_vec();
    }
    let c = rejected(&history);
    assert_eq!((&c.key, &c.stuck), (&history[target].key, &history[target]));
}
