//! Decoding a transaction's auth ids without a fresh copy per transaction.
//!
//! A batch holds many writes of few connections, and each write carries its connection's ids.
//! Decoding them one by one cost a list, two strings per id and the `Arc` for every write (about
//! 5 % of a create's instructions). Here the ids are read as borrowed strings and compared
//! with the list decoded last on this thread; when they are the same, that list's `Arc` is
//! shared. The encoding is the list itself (the same bytes as a plain `Vec<AuthId>`).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::AuthId;

thread_local! {
    /// The auth list decoded last on this thread (a hint only: contents are always compared).
    static LAST: RefCell<Arc<Vec<AuthId>>> = RefCell::new(Arc::default());
}

/// One id as it sits in the input (borrowed when the format allows).
#[derive(Deserialize)]
struct AuthRef<'a> {
    #[serde(borrow)]
    scheme: Cow<'a, str>,
    #[serde(borrow)]
    id: Cow<'a, str>,
}

impl AuthRef<'_> {
    fn same_as(&self, a: &AuthId) -> bool {
        self.scheme == a.scheme.as_str() && self.id == a.id.as_str()
    }

    fn to_owned_id(&self) -> AuthId {
        AuthId {
            scheme: self.scheme.clone().into_owned(),
            id: self.id.clone().into_owned(),
        }
    }
}

/// Deserializes a `Vec<AuthId>` into an `Arc`, sharing the previous one when equal.
///
/// # Errors
/// Whatever the deserializer reports.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Vec<AuthId>>, D::Error> {
    d.deserialize_seq(AuthVisitor)
}

struct AuthVisitor;

impl<'de> Visitor<'de> for AuthVisitor {
    type Value = Arc<Vec<AuthId>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of auth ids")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let last = LAST.with(|l| l.borrow().clone());
        let mut i = 0;
        // While the ids match the last list, nothing is copied.
        let mut fresh: Option<Vec<AuthId>> = None;
        while let Some(r) = seq.next_element::<AuthRef<'de>>()? {
            match &mut fresh {
                Some(v) => v.push(r.to_owned_id()),
                None if last.get(i).is_some_and(|a| r.same_as(a)) => {}
                None => {
                    let mut v: Vec<AuthId> = last.iter().take(i).cloned().collect();
                    v.push(r.to_owned_id());
                    fresh = Some(v);
                }
            }
            i += 1;
        }
        let out = match fresh {
            None if i == last.len() => return Ok(last),
            // A prefix of the last list.
            None => Arc::new(last.iter().take(i).cloned().collect()),
            Some(v) => Arc::new(v),
        };
        LAST.with(|l| *l.borrow_mut() = out.clone());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, Deserialize, Debug, PartialEq)]
    struct Plain(Vec<AuthId>);

    #[derive(Deserialize, Debug)]
    struct Interned(#[serde(deserialize_with = "super::deserialize")] Arc<Vec<AuthId>>);

    fn id(s: &str, i: &str) -> AuthId {
        AuthId {
            scheme: s.into(),
            id: i.into(),
        }
    }

    fn decode(v: &[AuthId]) -> Arc<Vec<AuthId>> {
        let bytes = postcard::to_stdvec(&Plain(v.to_vec())).expect("encode");
        postcard::from_bytes::<Interned>(&bytes).expect("decode").0
    }

    #[test]
    fn equal_lists_share_one_arc_and_any_difference_gets_its_own() {
        let a = vec![id("ip", "127.0.0.1")];
        let b = vec![id("ip", "127.0.0.1"), id("digest", "u:h")];
        let first = decode(&a);
        let again = decode(&a);
        assert_eq!(*first, a);
        assert!(Arc::ptr_eq(&first, &again));
        // Longer, then a prefix, then empty, then a different id at the same position.
        assert_eq!(*decode(&b), b);
        assert_eq!(*decode(&a), a);
        assert_eq!(*decode(&[]), Vec::<AuthId>::new());
        assert_eq!(*decode(&[id("ip", "10.0.0.1")]), vec![id("ip", "10.0.0.1")]);
        assert_eq!(*decode(&[id("x", "127.0.0.1")]), vec![id("x", "127.0.0.1")]);
        assert_eq!(*decode(&b), b);
    }

    #[test]
    fn same_bytes_as_a_plain_list_and_truncation_is_an_error() {
        let b = vec![id("ip", "127.0.0.1"), id("digest", "u:h")];
        let bytes = postcard::to_stdvec(&Plain(b.clone())).expect("encode");
        assert_eq!(
            *postcard::from_bytes::<Interned>(&bytes).expect("decode").0,
            b
        );
        assert!(postcard::from_bytes::<Interned>(&bytes[..bytes.len() - 1]).is_err());
    }
}
