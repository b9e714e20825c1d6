//! One checker for "who held what, when": every recipe test that asserts exclusion (mutex,
//! leader, read/write lock, semaphore) records its holders' enter and leave events in a
//! [`HolderLog`] (or writes them as text lines, e.g. from a Java process, read back with
//! [`parse_text`]), and [`check`] replays them in order and panics, showing the log, on:
//!
//! - an exclusive holder entering while anyone else is inside;
//! - a shared holder entering while an exclusive holder is inside, or beyond the limit of
//!   shared holders ([`Rules::max_shared`], e.g. a semaphore's lease count);
//! - a leave of a holder that is not inside, or a holder entering twice;
//! - a fencing token that does not increase from one exclusive entry to the next
//!   ([`TokenOrder`]).
//!
//! The log's order is the order of the pushes, which take one lock, so it is the real-time
//! order of the moments the holders logged. A holder logs its enter after it holds and its
//! leave before it lets go, so each logged section lies inside the held one and a logged
//! conflict is a real one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

/// What a holder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Alone: a mutex, a leadership, a write lock.
    Exclusive,
    /// With other shared holders: a read lock, a semaphore lease.
    Shared,
}

/// One logged moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Enter (`true`) or leave.
    pub enter: bool,
    /// What was entered or left.
    pub kind: Kind,
    /// Who (unique among holders that may be inside at once).
    pub holder: String,
    /// The fencing token an exclusive holder entered with, if it has one.
    pub token: Option<i64>,
}

/// A shared, append-only log of enter and leave events (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct HolderLog(Arc<Mutex<Vec<Event>>>);

impl HolderLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&self, e: Event) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(e);
    }

    /// `holder` entered alone, with a fencing token.
    pub fn enter(&self, holder: impl Into<String>, token: i64) {
        self.push(Event {
            enter: true,
            kind: Kind::Exclusive,
            holder: holder.into(),
            token: Some(token),
        });
    }

    /// `holder` entered alone, without a token.
    pub fn enter_untokened(&self, holder: impl Into<String>) {
        self.push(Event {
            enter: true,
            kind: Kind::Exclusive,
            holder: holder.into(),
            token: None,
        });
    }

    /// `holder` entered as a shared holder.
    pub fn enter_shared(&self, holder: impl Into<String>) {
        self.push(Event {
            enter: true,
            kind: Kind::Shared,
            holder: holder.into(),
            token: None,
        });
    }

    /// `holder` left (whatever it held).
    pub fn leave(&self, holder: impl Into<String>) {
        self.push(Event {
            enter: false,
            kind: Kind::Exclusive,
            holder: holder.into(),
            token: None,
        });
    }

    /// The events so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How fencing tokens must move from one exclusive entry to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrder {
    /// Every entry has a larger token than the one before (a lock: one node per hold).
    Increasing,
    /// Larger, or the same token again for the same holder (a leader latch that steps down
    /// while disconnected and leads again on the same node, which nobody else could have
    /// passed meanwhile); a token once passed never comes back.
    IncreasingOrSameHolderAgain,
}

/// What [`check`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// How many shared holders may be inside at once.
    pub max_shared: usize,
    /// How tokens of exclusive entries must move.
    pub tokens: TokenOrder,
}

impl Rules {
    /// A mutex or a leadership: exclusive entries only, strictly increasing tokens.
    pub const EXCLUSIVE: Rules = Rules {
        max_shared: 0,
        tokens: TokenOrder::Increasing,
    };

    /// A read/write lock: any number of readers, writers alone.
    pub const READ_WRITE: Rules = Rules {
        max_shared: usize::MAX,
        tokens: TokenOrder::Increasing,
    };

    /// A semaphore with `n` leases.
    pub const fn leases(n: usize) -> Rules {
        Rules {
            max_shared: n,
            tokens: TokenOrder::Increasing,
        }
    }
}

/// What a log that passed [`check`] contained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Completed sections (enter followed by the same holder's leave).
    pub sections: usize,
    /// Completed exclusive sections.
    pub exclusive: usize,
    /// Completed shared sections.
    pub shared: usize,
    /// The most shared holders inside at once.
    pub max_shared_inside: usize,
    /// Sections per holder.
    pub per_holder: BTreeMap<String, usize>,
    /// How often the next entry was by another holder than the previous one.
    pub hand_overs: usize,
}

/// Replays `events` in order and panics (showing the log) on any violation of `rules`; see
/// the module docs. Every section must be closed by the end.
pub fn check(events: &[Event], rules: Rules) -> Summary {
    check_with(events, rules, |_| {})
}

/// [`check`], calling `after_enter` with who is inside (and how) after every enter, e.g. to
/// see whether holders of two languages ever shared a lock.
pub fn check_with(
    events: &[Event],
    rules: Rules,
    mut after_enter: impl FnMut(&BTreeMap<&str, Kind>),
) -> Summary {
    let fail = |i: usize, what: String| -> ! {
        panic!("{what} (event {i})\n{}", render(events, i));
    };
    let mut inside: BTreeMap<&str, Kind> = BTreeMap::new();
    let mut last_token: Option<(i64, &str)> = None;
    let mut last_holder: Option<&str> = None;
    let mut s = Summary::default();
    for (i, e) in events.iter().enumerate() {
        let who = e.holder.as_str();
        if !e.enter {
            match inside.remove(who) {
                Some(k) => {
                    s.sections += 1;
                    match k {
                        Kind::Exclusive => s.exclusive += 1,
                        Kind::Shared => s.shared += 1,
                    }
                    *s.per_holder.entry(e.holder.clone()).or_default() += 1;
                }
                None => fail(i, format!("{who} left without being inside")),
            }
            continue;
        }
        if inside.contains_key(who) {
            fail(i, format!("{who} entered twice"));
        }
        match e.kind {
            Kind::Exclusive => {
                if !inside.is_empty() {
                    fail(i, format!("{who} entered alone while {inside:?} inside"));
                }
                if let Some(t) = e.token {
                    if let Some((prev, prev_who)) = last_token {
                        let same_again = rules.tokens == TokenOrder::IncreasingOrSameHolderAgain
                            && t == prev
                            && prev_who == who;
                        if t <= prev && !same_again {
                            fail(
                                i,
                                format!("token {t} of {who} does not follow {prev} of {prev_who}"),
                            );
                        }
                    }
                    last_token = Some((t, who));
                }
            }
            Kind::Shared => {
                if inside.values().any(|k| *k == Kind::Exclusive) {
                    fail(i, format!("{who} entered shared while {inside:?} inside"));
                }
                if inside.len() + 1 > rules.max_shared {
                    fail(
                        i,
                        format!(
                            "{who} is shared holder {} of at most {}",
                            inside.len() + 1,
                            rules.max_shared
                        ),
                    );
                }
            }
        }
        inside.insert(who, e.kind);
        after_enter(&inside);
        if e.kind == Kind::Shared {
            s.max_shared_inside = s.max_shared_inside.max(inside.len());
        }
        if last_holder.is_some_and(|h| h != who) {
            s.hand_overs += 1;
        }
        last_holder = Some(who);
    }
    if !inside.is_empty() {
        fail(events.len(), format!("still inside at the end: {inside:?}"));
    }
    s
}

/// Reads a text log of lines `enter <holder> [<token>]` / `leave <holder>` (of kind `plain`),
/// or `W enter <holder>` / `R enter <holder>` / `W leave <holder>` / `R leave <holder>`
/// (write = exclusive, read = shared).
///
/// # Panics
/// On a line in neither form.
pub fn parse_text(text: &str, plain: Kind) -> Vec<Event> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (kind, rest) = match parts.first() {
                Some(&"W") => (Kind::Exclusive, &parts[1..]),
                Some(&"R") => (Kind::Shared, &parts[1..]),
                _ => (plain, &parts[..]),
            };
            let enter = match rest.first() {
                Some(&"enter") => true,
                Some(&"leave") => false,
                _ => panic!("not a holder log line: {line:?}\n{text}"),
            };
            let holder = rest
                .get(1)
                .unwrap_or_else(|| panic!("no holder in {line:?}\n{text}"))
                .to_string();
            let token = rest.get(2).map(|t| {
                t.parse()
                    .unwrap_or_else(|_| panic!("bad token in {line:?}\n{text}"))
            });
            Event {
                enter,
                kind,
                holder,
                token,
            }
        })
        .collect()
}

/// The log around event `at` (all of it when short).
fn render(events: &[Event], at: usize) -> String {
    let from = if events.len() > 60 {
        at.saturating_sub(40)
    } else {
        0
    };
    let to = (at + 20).min(events.len());
    let mut out = String::new();
    for (i, e) in events.iter().enumerate().take(to).skip(from) {
        let mark = if i == at { ">>" } else { "  " };
        let _ = writeln!(
            out,
            "{mark} {i:5} {} {:?} {} {}",
            if e.enter { "enter" } else { "leave" },
            e.kind,
            e.holder,
            e.token.map(|t| t.to_string()).unwrap_or_default()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(text: &str) -> Vec<Event> {
        parse_text(text, Kind::Exclusive)
    }

    #[test]
    fn accepts_turns_and_counts() {
        let s = check(
            &ev("enter a 1\nleave a\nenter b 2\nleave b\nenter a 5\nleave a\n"),
            Rules::EXCLUSIVE,
        );
        assert_eq!((s.sections, s.hand_overs), (3, 2));
    }

    #[test]
    #[should_panic(expected = "entered alone while")]
    fn rejects_overlap() {
        check(
            &ev("enter a 1\nenter b 2\nleave a\nleave b\n"),
            Rules::EXCLUSIVE,
        );
    }

    #[test]
    #[should_panic(expected = "does not follow")]
    fn rejects_token_going_back() {
        check(
            &ev("enter a 2\nleave a\nenter b 1\nleave b\n"),
            Rules::EXCLUSIVE,
        );
    }

    #[test]
    fn same_token_again_only_for_the_same_holder_when_allowed() {
        let again = ev("enter a 2\nleave a\nenter a 2\nleave a\n");
        let rules = Rules {
            max_shared: 0,
            tokens: TokenOrder::IncreasingOrSameHolderAgain,
        };
        assert_eq!(check(&again, rules).sections, 2);
        let other = ev("enter a 2\nleave a\nenter b 2\nleave b\n");
        assert!(std::panic::catch_unwind(|| check(&other, rules)).is_err());
        assert!(std::panic::catch_unwind(|| check(&again, Rules::EXCLUSIVE)).is_err());
    }

    #[test]
    fn readers_share_writers_exclude_and_leases_are_capped() {
        let s = check(
            &ev("R enter a\nR enter b\nR leave a\nR leave b\nW enter c\nW leave c\n"),
            Rules::READ_WRITE,
        );
        assert_eq!((s.shared, s.exclusive, s.max_shared_inside), (2, 1, 2));
        let writer_with_reader = ev("R enter a\nW enter c\nW leave c\nR leave a\n");
        assert!(
            std::panic::catch_unwind(|| check(&writer_with_reader, Rules::READ_WRITE)).is_err()
        );
        let three = parse_text(
            "enter a\nenter b\nenter c\nleave a\nleave b\nleave c\n",
            Kind::Shared,
        );
        let mut most = 0;
        let s = check_with(&three, Rules::leases(3), |inside| {
            most = most.max(inside.len())
        });
        assert_eq!((s.max_shared_inside, most), (3, 3));
        assert!(std::panic::catch_unwind(|| check(&three, Rules::leases(2))).is_err());
    }

    #[test]
    fn rejects_unbalanced_logs() {
        assert!(std::panic::catch_unwind(|| check(&ev("leave a\n"), Rules::EXCLUSIVE)).is_err());
        assert!(std::panic::catch_unwind(|| check(&ev("enter a 1\n"), Rules::EXCLUSIVE)).is_err());
    }
}
