//! Linearizability checker for single-register-per-key ZooKeeper workloads.
//!
//! Clients record a [`History`] of operations on znodes (read, unconditional or conditional
//! `setData`, `create`, `delete`), each with the time it was called and the time it returned;
//! [`check`] then decides whether some sequential order of the operations, consistent with
//! real time (an operation that returned before another was called comes first), explains every
//! outcome under the model of one register per znode: `Option<(data, version)>`.
//!
//! The search is Wing & Gong's with Lowe's memoization of (linearized set, register state), as
//! in Porcupine; keys are independent, so the history is partitioned by key and each key is
//! searched alone. An operation whose outcome is [`Outcome::Unknown`] (connection loss, timeout)
//! never returns: it may be placed anywhere after its call, with whatever result the model gives,
//! or never (the search ends when every operation with a known outcome is placed). Unknown reads
//! say nothing and are dropped.
//!
//! ZooKeeper itself promises linearizable writes but only sequentially consistent reads: a
//! follower may serve a stale read. Histories whose reads are not made linearizable (e.g. by a
//! `sync` first, or by reading through the leader) can fail here on a correct server.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// A znode as a register: `None` when absent, else its data and version.
pub type Register = Option<(Vec<u8>, i32)>;

/// Default bound on the configurations one key's search may record before giving up.
pub const DEFAULT_MAX_STATES: u64 = 5_000_000;

/// An operation on one znode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Op {
    /// `getData` / `exists`: [`Outcome::Value`] (or `Error(NoNode)`, read as absent).
    Read,
    /// Unconditional `setData` (version -1): [`Outcome::Version`] or `Error(NoNode)`.
    Write {
        /// Data written.
        value: Vec<u8>,
    },
    /// Conditional `setData`: [`Outcome::Version`], `Error(BadVersion)` or `Error(NoNode)`.
    Cas {
        /// Data written.
        value: Vec<u8>,
        /// Version the node must have (-1 matches any, as in ZooKeeper).
        expected_version: i32,
    },
    /// `create` (version 0): [`Outcome::Done`] or `Error(NodeExists)`.
    Create {
        /// Initial data.
        value: Vec<u8>,
    },
    /// `delete`: [`Outcome::Done`], `Error(NoNode)` or `Error(BadVersion)`.
    Delete {
        /// Version the node must have; `None` (or -1) matches any.
        expected_version: Option<i32>,
    },
}

impl Op {
    /// The data it writes, if any.
    pub fn value(&self) -> Option<&[u8]> {
        match self {
            Op::Write { value } | Op::Cas { value, .. } | Op::Create { value } => Some(value),
            Op::Read | Op::Delete { .. } => None,
        }
    }
}

/// A ZooKeeper error the model can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpError {
    /// The node does not exist.
    NoNode,
    /// The node's version differs from the expected one.
    BadVersion,
    /// The node already exists.
    NodeExists,
}

/// How an operation ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A read's result: `None` when the node was absent.
    Value(Register),
    /// A `setData` succeeded, giving the node this version.
    Version(i32),
    /// A `create` or `delete` succeeded.
    Done,
    /// The operation failed with this error (and had no effect).
    Error(OpError),
    /// Connection loss or timeout: it may or may not have taken effect.
    Unknown,
}

/// One operation of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Client (session, task) that issued it; informational.
    pub client: u64,
    /// Znode path.
    pub key: String,
    /// What was asked.
    pub op: Op,
    /// What came back.
    pub outcome: Outcome,
    /// Call time, ns since the history's origin.
    pub call: u64,
    /// Return time, ns since the history's origin (ignored when the outcome is unknown).
    pub ret: u64,
}

/// A shared, cheaply cloneable history recorder. Every clone stamps times from one monotonic
/// clock (a common [`Instant`] origin); the lock is only held to push an entry.
#[derive(Debug, Clone)]
pub struct History {
    origin: Instant,
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl Default for History {
    fn default() -> Self {
        Self::new()
    }
}

impl History {
    /// An empty history whose clock starts now.
    pub fn new() -> Self {
        let entries = Arc::default();
        Self {
            origin: Instant::now(),
            entries,
        }
    }

    /// Nanoseconds since this history's origin.
    pub fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Starts an operation: call it just before sending the request. The [`Pending`] records
    /// the entry when ended, or as [`Outcome::Unknown`] if dropped (e.g. a cancelled task).
    pub fn begin(&self, client: u64, key: impl Into<String>, op: Op) -> Pending {
        let (key, outcome, call) = (key.into(), Outcome::Unknown, self.now());
        let entry = Entry {
            client,
            key,
            op,
            outcome,
            call,
            ret: call,
        };
        let history = self.clone();
        Pending {
            history,
            entry: Some(entry),
        }
    }

    /// Appends a complete entry (for histories built by hand).
    pub fn record(&self, entry: Entry) {
        self.lock().push(entry);
    }

    /// A snapshot of the entries recorded so far, in the order they ended.
    pub fn entries(&self) -> Vec<Entry> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // A poisoned lock only means a recording task panicked; pushes keep the Vec consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// An operation that was called and has not returned yet; see [`History::begin`].
#[derive(Debug)]
#[must_use = "end it with Pending::end (dropping it records Unknown)"]
pub struct Pending {
    history: History,
    entry: Option<Entry>,
}

impl Pending {
    /// Records the operation's outcome, stamping its return time now.
    pub fn end(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        if let Some(mut entry) = self.entry.take() {
            (entry.outcome, entry.ret) = (outcome, self.history.now());
            self.history.record(entry);
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.finish(Outcome::Unknown);
    }
}

/// What a passing check saw for one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyReport {
    /// Entries on the key, unknown ones included.
    pub ops: usize,
    /// Entries whose outcome was unknown (unknown reads are counted, then dropped).
    pub unknown: usize,
    /// Configurations the search recorded.
    pub states_explored: u64,
}

/// Result of a passing check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// One report per key of the history.
    pub keys: BTreeMap<String, KeyReport>,
}

impl CheckReport {
    /// Entries over all keys.
    pub fn total_ops(&self) -> usize {
        self.keys.values().map(|k| k.ops).sum()
    }

    /// Unknown-outcome entries over all keys.
    pub fn total_unknown(&self) -> usize {
        self.keys.values().map(|k| k.unknown).sum()
    }

    /// Configurations recorded over all keys.
    pub fn total_states(&self) -> u64 {
        self.keys.values().map(|k| k.states_explored).sum()
    }
}

/// Evidence that one key's history is not linearizable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counterexample {
    /// The key.
    pub key: String,
    /// The longest sequence of operations the search could linearize, in that order.
    pub prefix: Vec<Entry>,
    /// The register after `prefix`.
    pub state: Register,
    /// The earliest-returning known operation left out of `prefix`: it had to be placed
    /// next (or after ops concurrent with it) and could not be.
    pub stuck: Entry,
}

/// Why a check did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// No linearization exists.
    NotLinearizable(Box<Counterexample>),
    /// The search hit its budget: neither proven nor refuted.
    Inconclusive {
        /// The key whose search gave up.
        key: String,
        /// Configurations recorded before giving up.
        explored: u64,
    },
    /// A malformed entry: an outcome of the wrong kind for its op, or a return before the call.
    InvalidEntry {
        /// The entry.
        entry: Box<Entry>,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl std::error::Error for Violation {}

/// Checker settings; [`check`] uses the defaults.
#[derive(Debug, Clone)]
pub struct Checker {
    max_states: u64,
    default_initial: Register,
    initial: HashMap<String, Register>,
}

impl Default for Checker {
    fn default() -> Self {
        let initial = HashMap::new();
        Self {
            max_states: DEFAULT_MAX_STATES,
            default_initial: None,
            initial,
        }
    }
}

/// Checks `history` with the default [`Checker`]: every key starts absent, and each key's
/// search may record [`DEFAULT_MAX_STATES`] configurations.
pub fn check(history: &[Entry]) -> Result<CheckReport, Violation> {
    Checker::default().check(history)
}

impl Checker {
    /// Default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bound on the configurations one key's search may record ([`Violation::Inconclusive`]
    /// beyond). Each costs a few dozen bytes.
    pub fn max_states(mut self, max_states: u64) -> Self {
        self.max_states = max_states;
        self
    }

    /// Initial state of every key not given one with [`Checker::initial_state`].
    pub fn default_initial_state(mut self, state: Register) -> Self {
        self.default_initial = state;
        self
    }

    /// Initial state of `key`.
    pub fn initial_state(mut self, key: impl Into<String>, state: Register) -> Self {
        self.initial.insert(key.into(), state);
        self
    }

    /// Checks every key of `history`, in key order. A key that is not linearizable is reported
    /// at once; an inconclusive key only if no other key fails.
    pub fn check(&self, history: &[Entry]) -> Result<CheckReport, Violation> {
        let mut by_key: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
        for entry in history {
            validate(entry)?;
            by_key.entry(&entry.key).or_default().push(entry);
        }
        let (mut report, mut inconclusive) = (CheckReport::default(), None);
        for (key, entries) in by_key {
            let initial = self.initial.get(key).unwrap_or(&self.default_initial);
            match check_key(key, &entries, initial, self.max_states) {
                Ok(key_report) => {
                    report.keys.insert(key.to_owned(), key_report);
                }
                Err(v @ Violation::Inconclusive { .. }) => inconclusive = inconclusive.or(Some(v)),
                Err(v) => return Err(v),
            }
        }
        inconclusive.map_or(Ok(report), Err)
    }
}

fn validate(entry: &Entry) -> Result<(), Violation> {
    let reason = match (&entry.op, &entry.outcome) {
        (_, Outcome::Unknown) => return Ok(()),
        _ if entry.ret < entry.call => "returned before it was called",
        (_, Outcome::Error(_))
        | (Op::Read, Outcome::Value(_))
        | (Op::Write { .. } | Op::Cas { .. }, Outcome::Version(_))
        | (Op::Create { .. } | Op::Delete { .. }, Outcome::Done) => return Ok(()),
        (Op::Read, _) => "a read's outcome must be Value or Error",
        (Op::Write { .. } | Op::Cas { .. }, _) => "a setData's outcome must be Version or Error",
        (Op::Create { .. } | Op::Delete { .. }, _) => "outcome must be Done or Error",
    };
    let entry = Box::new(entry.clone());
    Err(Violation::InvalidEntry { entry, reason })
}

/// Register state with data interned: copyable and cheap to hash.
type State = Option<(u32, i32)>;

/// An [`Op`] with interned data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum MOp {
    Read,
    Write(u32),
    Cas(u32, i32),
    Create(u32),
    Delete(i32),
}

/// An [`Outcome`] with interned data (unknown outcomes have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MRes {
    Value(State),
    Version(i32),
    Done,
    Error(OpError),
}

fn model_op(op: &Op, id: impl FnMut(&[u8]) -> u32) -> MOp {
    let v = op.value().map_or(0, id);
    match op {
        Op::Read => MOp::Read,
        Op::Write { .. } => MOp::Write(v),
        Op::Cas {
            expected_version, ..
        } => MOp::Cas(v, *expected_version),
        Op::Create { .. } => MOp::Create(v),
        Op::Delete { expected_version } => MOp::Delete(expected_version.unwrap_or(-1)),
    }
}

/// The sequential specification: the next state and the result, from any state.
fn apply(state: State, op: MOp) -> (State, MRes) {
    let matches = |version: i32, expected: i32| expected == -1 || expected == version;
    match (op, state) {
        (MOp::Read, _) => (state, MRes::Value(state)),
        (MOp::Create(v), None) => (Some((v, 0)), MRes::Done),
        (MOp::Create(_), Some(_)) => (state, MRes::Error(OpError::NodeExists)),
        (_, None) => (state, MRes::Error(OpError::NoNode)),
        (MOp::Write(v), Some((_, n))) => (Some((v, n + 1)), MRes::Version(n + 1)),
        (MOp::Cas(v, e), Some((_, n))) if matches(n, e) => (Some((v, n + 1)), MRes::Version(n + 1)),
        (MOp::Delete(e), Some((_, n))) if matches(n, e) => (None, MRes::Done),
        (MOp::Cas(..) | MOp::Delete(_), Some(_)) => (state, MRes::Error(OpError::BadVersion)),
    }
}

#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Vec<u8>, u32>,
    values: Vec<Vec<u8>>,
}

impl Interner {
    fn id(&mut self, value: &[u8]) -> u32 {
        let next = u32::try_from(self.values.len()).unwrap_or(BOTTOM - 1);
        let id = *self.ids.entry(value.to_vec()).or_insert(next);
        if id == next {
            self.values.push(value.to_vec());
        }
        id
    }

    fn state(&mut self, register: &Register) -> State {
        register.as_ref().map(|(v, version)| (self.id(v), *version))
    }

    fn register(&self, state: State) -> Register {
        state.map(|(id, version)| (self.values[id as usize].clone(), version))
    }
}

/// The interned id of all data no read observed.
const BOTTOM: u32 = u32::MAX;

/// A pseudo-random 128-bit key for `x` in `domain` (SplitMix64's finalizer; within a domain,
/// distinct `x` get distinct keys).
fn zobrist(domain: u64, x: u64) -> u128 {
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let lo = mix(x.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ domain);
    (u128::from(mix(lo ^ 0x5851_f42d_4c95_7f2d)) << 64) | u128::from(lo)
}

fn state_key(state: State) -> u128 {
    match state {
        None => zobrist(3, 0),
        Some((v, n)) => zobrist(4, (u64::from(v) << 32) | u64::from(n as u32)),
    }
}

/// One op of a key's search.
#[derive(Debug)]
struct KeyOp<'a> {
    entry: &'a Entry,
    op: MOp,
    /// `None` when the outcome is unknown.
    expect: Option<MRes>,
    /// For an unknown op: its kind (distinct model op) and rank in that kind by call time.
    kind: Option<(usize, u32)>,
    /// Its term in configuration fingerprints.
    key: u128,
}

const NIL: usize = usize::MAX;
const RETURN: usize = usize::MAX - 1;

/// The doubly linked list of call and return events by time, calls first at equal times (so
/// such ops overlap). Index 0 is the head; `op[i]` is event `i`'s op, and `ret[i]` for a call
/// the index of its return (`NIL` if unknown), for a return `RETURN`.
#[derive(Debug)]
struct Events {
    prev: Vec<usize>,
    next: Vec<usize>,
    op: Vec<usize>,
    ret: Vec<usize>,
}

impl Events {
    fn new(ops: &[KeyOp<'_>]) -> Self {
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * ops.len());
        for (i, op) in ops.iter().enumerate() {
            events.push((op.entry.call, false, i));
            if op.expect.is_some() {
                events.push((op.entry.ret, true, i));
            }
        }
        events.sort_unstable();
        let n = events.len() + 1;
        let (prev, next) = (
            (0..n).map(|i| i.wrapping_sub(1)).collect(),
            (1..=n).collect(),
        );
        let (op, ret) = (vec![NIL; n], vec![NIL; n]);
        let mut list = Events {
            prev,
            next,
            op,
            ret,
        };
        list.next[n - 1] = NIL;
        let mut return_at = vec![NIL; ops.len()];
        for (i, &(_, is_return, op)) in events.iter().enumerate().rev() {
            list.op[i + 1] = op;
            list.ret[i + 1] = if is_return { RETURN } else { return_at[op] };
            if is_return {
                return_at[op] = i + 1;
            }
        }
        list
    }

    /// Removes a call event and its return event; [`Events::unlift`] undoes it (dancing links:
    /// undone in reverse order).
    fn lift(&mut self, call: usize) {
        for i in [call, self.ret[call]].into_iter().filter(|&i| i != NIL) {
            let (prev, next) = (self.prev[i], self.next[i]);
            self.next[prev] = next;
            if next != NIL {
                self.prev[next] = prev;
            }
        }
    }

    fn unlift(&mut self, call: usize) {
        for i in [self.ret[call], call].into_iter().filter(|&i| i != NIL) {
            let (prev, next) = (self.prev[i], self.next[i]);
            self.next[prev] = i;
            if next != NIL {
                self.prev[next] = i;
            }
        }
    }
}

/// Wing & Gong's search with Lowe's memo, over one key's entries. Refinements, all exact up
/// to fingerprint collisions:
/// - Data no read observed is interned as one value, [`BOTTOM`]: which such datum a node holds
///   changes no known outcome, and unknown writes of such data become interchangeable.
/// - Unknown ops of one kind (same model op) are interchangeable once called, as they never
///   return; the search places them in call order (a swap argument shows nothing is lost), so
///   how many of each kind are placed says which.
/// - The memo holds 128-bit fingerprints of (placed known ops, unknown counts, state): sums of
///   pseudo-random per-op keys, updated in O(1) per step. A configuration with one unknown op
///   of some kind more than a recorded one with the same state is pruned: it has the same
///   obligations and fewer options. Hence each step tries known ops before unknown ones.
fn check_key(
    key: &str,
    entries: &[&Entry],
    initial: &Register,
    max_states: u64,
) -> Result<KeyReport, Violation> {
    let mut interner = Interner::default();
    for entry in entries {
        if let (Op::Read, Outcome::Value(register)) = (&entry.op, &entry.outcome) {
            interner.state(register);
        }
    }
    let canon = |v: &[u8]| interner.ids.get(v).copied().unwrap_or(BOTTOM);
    let canon_state = |r: &Register| r.as_ref().map(|(v, n)| (canon(v), *n));
    let unknown = entries
        .iter()
        .filter(|e| e.outcome == Outcome::Unknown)
        .count();
    let mut ops = Vec::with_capacity(entries.len());
    for &entry in entries {
        let op = model_op(&entry.op, canon);
        let expect = match &entry.outcome {
            Outcome::Unknown if op == MOp::Read => continue,
            Outcome::Unknown => None,
            Outcome::Error(OpError::NoNode) if op == MOp::Read => Some(MRes::Value(None)),
            Outcome::Value(register) => Some(MRes::Value(canon_state(register))),
            Outcome::Version(v) => Some(MRes::Version(*v)),
            Outcome::Done => Some(MRes::Done),
            Outcome::Error(e) => Some(MRes::Error(*e)),
        };
        let (kind, key) = (None, zobrist(1, ops.len() as u64));
        ops.push(KeyOp {
            entry,
            op,
            expect,
            kind,
            key,
        });
    }
    let mut order: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].expect.is_none())
        .collect();
    order.sort_by_key(|&i| (ops[i].entry.call, i));
    let mut kinds: HashMap<MOp, (usize, u32)> = HashMap::new();
    for i in order {
        let fresh = (kinds.len(), 0);
        let (kind, rank) = kinds.entry(ops[i].op).or_insert(fresh);
        (ops[i].kind, ops[i].key) = (Some((*kind, *rank)), zobrist(2, *kind as u64));
        *rank += 1;
    }
    let kind_keys: Vec<u128> = (0..kinds.len()).map(|k| zobrist(2, k as u64)).collect();

    let mut events = Events::new(&ops);
    let mut remaining = ops.iter().filter(|op| op.expect.is_some()).count();
    let (mut state, mut placed) = (canon_state(initial), 0u128);
    let mut counts = vec![0u32; kinds.len()];
    let mut memo: HashSet<u128> = HashSet::new();
    let (mut stack, mut best): (Vec<(usize, State)>, Vec<usize>) = (vec![], vec![]);
    let (mut at, mut unknown_phase) = (events.next[0], false);
    while remaining > 0 {
        if at != NIL && events.ret[at] != RETURN {
            let op = &ops[events.op[at]];
            let turn = match op.kind {
                None => !unknown_phase,
                Some((kind, rank)) => unknown_phase && counts[kind] == rank,
            };
            let (next, result) = apply(state, op.op);
            if turn && op.expect.is_none_or(|expect| expect == result) {
                let config = placed.wrapping_add(op.key).wrapping_add(state_key(next));
                if memo.insert(config) {
                    if memo.len() as u64 > max_states {
                        let (key, explored) = (key.to_owned(), max_states);
                        return Err(Violation::Inconclusive { key, explored });
                    }
                    let dominated = (0..counts.len()).any(|k| {
                        let count = counts[k] + u32::from(op.kind.is_some_and(|(j, _)| j == k));
                        count > 0 && memo.contains(&config.wrapping_sub(kind_keys[k]))
                    });
                    if !dominated {
                        stack.push((at, state));
                        (state, placed) = (next, placed.wrapping_add(op.key));
                        match op.kind {
                            None => remaining -= 1,
                            Some((kind, _)) => counts[kind] += 1,
                        }
                        events.lift(at);
                        if stack.len() > best.len() {
                            best = stack.iter().map(|&(call, _)| events.op[call]).collect();
                        }
                        (at, unknown_phase) = (events.next[0], false);
                        continue;
                    }
                }
            }
            at = events.next[at];
        } else if !unknown_phase {
            // The first return event (or the end): no known op can go next; try unknown ones.
            (at, unknown_phase) = (events.next[0], true);
        } else {
            // No op can go next: undo the last step and try the candidates after it.
            let Some((call, previous)) = stack.pop() else {
                return Err(counterexample(key, &ops, &best, initial));
            };
            let op = &ops[events.op[call]];
            (state, placed) = (previous, placed.wrapping_sub(op.key));
            match op.kind {
                None => remaining += 1,
                Some((kind, _)) => counts[kind] -= 1,
            }
            unknown_phase = op.kind.is_some();
            events.unlift(call);
            at = events.next[call];
        }
    }
    let states_explored = memo.len() as u64;
    let ops = entries.len();
    Ok(KeyReport {
        ops,
        unknown,
        states_explored,
    })
}

fn counterexample(key: &str, ops: &[KeyOp<'_>], best: &[usize], initial: &Register) -> Violation {
    let mut interner = Interner::default();
    let mut state = interner.state(initial);
    let mut placed = vec![false; ops.len()];
    for &i in best {
        state = apply(state, model_op(&ops[i].entry.op, |v| interner.id(v))).0;
        placed[i] = true;
    }
    let stuck = (ops.iter().enumerate())
        .filter(|&(i, op)| !placed[i] && op.expect.is_some())
        .min_by_key(|(_, op)| (op.entry.ret, op.entry.call));
    let Some((_, stuck)) = stuck else {
        // Unreachable: the search only fails while a known op is left.
        let (key, explored) = (key.to_owned(), 0);
        return Violation::Inconclusive { key, explored };
    };
    Violation::NotLinearizable(Box::new(Counterexample {
        key: key.to_owned(),
        prefix: best.iter().map(|&i| ops[i].entry.clone()).collect(),
        state: interner.register(state),
        stuck: stuck.entry.clone(),
    }))
}

/// Data as a quoted string (lossy UTF-8), cut after 40 bytes.
fn show(data: &[u8]) -> String {
    let cut = if data.len() > 40 { "…" } else { "" };
    format!(
        "{:?}{cut}",
        String::from_utf8_lossy(&data[..data.len().min(40)])
    )
}

fn show_register(register: &Register) -> String {
    match register {
        None => "absent".to_owned(),
        Some((data, version)) => format!("{} v{version}", show(data)),
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.value().map(show).unwrap_or_default();
        match self {
            Op::Read => f.write_str("read"),
            Op::Write { .. } => write!(f, "write {value}"),
            Op::Cas {
                expected_version, ..
            } => write!(f, "cas {value} if v{expected_version}"),
            Op::Create { .. } => write!(f, "create {value}"),
            Op::Delete { expected_version } => match expected_version {
                Some(n) => write!(f, "delete if v{n}"),
                None => f.write_str("delete"),
            },
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Value(register) => f.write_str(&show_register(register)),
            Outcome::Version(n) => write!(f, "ok v{n}"),
            Outcome::Done => f.write_str("ok"),
            Outcome::Error(e) => write!(f, "{e:?}"),
            Outcome::Unknown => f.write_str("unknown"),
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (client, key, op, outcome) = (self.client, &self.key, &self.op, &self.outcome);
        write!(
            f,
            "client {client} {key} {op} -> {outcome} [call {} ns, ",
            self.call
        )?;
        match outcome {
            Outcome::Unknown => write!(f, "no return]"),
            _ => write!(f, "ret {} ns]", self.ret),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NotLinearizable(c) => {
                writeln!(f, "key {:?}: history is not linearizable", c.key)?;
                writeln!(f, "  longest linearizable prefix ({} ops):", c.prefix.len())?;
                let skipped = c.prefix.len().saturating_sub(20);
                if skipped > 0 {
                    writeln!(f, "    ... {skipped} earlier ops")?;
                }
                for entry in &c.prefix[skipped..] {
                    writeln!(f, "    {entry}")?;
                }
                writeln!(f, "  register after it: {}", show_register(&c.state))?;
                write!(f, "  first operation that cannot be placed: {}", c.stuck)
            }
            Violation::Inconclusive { key, explored } => {
                write!(
                    f,
                    "key {key:?}: inconclusive, gave up after {explored} states"
                )
            }
            Violation::InvalidEntry { entry, reason } => {
                write!(f, "invalid history entry ({reason}): {entry}")
            }
        }
    }
}

#[cfg(test)]
mod tests;
