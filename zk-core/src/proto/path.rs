//! Path rules (identical to Apache's `PathUtils.validatePath`), chroot handling and sequential
//! suffixes.

/// Why a path was rejected; the message matches Apache's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid path string \"{path}\" caused by {reason}")]
pub struct PathError {
    /// The rejected path.
    pub path: String,
    /// Why.
    pub reason: String,
}

fn invalid(path: &str, reason: impl Into<String>) -> PathError {
    PathError {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn is_forbidden_char(c: u32) -> bool {
    (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        // Java sees characters beyond the BMP as surrogate pairs (U+D800–U+DFFF): forbidden.
        || c > 0xffff
}

/// Checks a path the way Apache ZooKeeper does: it must start with `/`, must not end with `/`
/// (except the root), and may not contain empty, `.` or `..` components, NUL, control
/// characters (U+0001–U+001F, U+007F–U+009F) or U+D800–U+F8FF, U+FFF0–U+FFFF (so nothing
/// beyond the BMP either).
///
/// # Errors
/// A [`PathError`] naming the reason and the UTF-16 index Java would report.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    if path.is_ascii() {
        // ASCII text is one UTF-16 unit per byte: check the bytes without a copy.
        check_units(path, path.as_bytes())
    } else {
        // Java indexes UTF-16 code units.
        let units: Vec<u16> = path.encode_utf16().collect();
        check_units(path, &units)
    }
}

/// [`validate_path`] over the path's UTF-16 code units (or its bytes, when they are the same).
fn check_units<U: Copy + Into<u32>>(path: &str, units: &[U]) -> Result<(), PathError> {
    let slash = u32::from(b'/');
    let dot = u32::from(b'.');
    let at = |i: usize| -> u32 { units[i].into() };
    if units.is_empty() {
        return Err(invalid(path, "Path length must be > 0"));
    }
    if at(0) != slash {
        return Err(invalid(path, "Path must start with / character"));
    }
    if units.len() == 1 {
        return Ok(());
    }
    if at(units.len() - 1) == slash {
        return Err(invalid(path, "Path must not end with / character"));
    }
    let mut last = slash;
    for i in 1..units.len() {
        let c = at(i);
        let next_ends = i + 1 == units.len() || at(i + 1) == slash;
        if c == 0 {
            return Err(invalid(path, format!("null character not allowed @{i}")));
        } else if c == slash && last == slash {
            return Err(invalid(path, format!("empty node name specified @{i}")));
        } else if c == dot && last == dot {
            if at(i - 2) == slash && next_ends {
                return Err(invalid(path, format!("relative paths not allowed @{i}")));
            }
        } else if c == dot {
            if at(i - 1) == slash && next_ends {
                return Err(invalid(path, format!("relative paths not allowed @{i}")));
            }
        } else if is_forbidden_char(c) {
            return Err(invalid(path, format!("invalid character @{i}")));
        }
        last = c;
    }
    Ok(())
}

/// Checks a create path; a sequential path is checked with a digit appended, as Apache does
/// (so `/a/` is a valid sequential prefix).
///
/// # Errors
/// As [`validate_path`].
pub fn validate_create_path(path: &str, sequential: bool) -> Result<(), PathError> {
    if sequential {
        validate_path(&format!("{path}1")).map_err(|e| invalid(path, e.reason))
    } else {
        validate_path(path)
    }
}

/// The name suffix of the `counter`-th sequential child: `%010d`, as Java formats it
/// (negative after the signed counter overflows).
pub fn sequence_suffix(counter: i32) -> String {
    format!("{counter:010}")
}

/// The parent of a valid path (`/` for top-level nodes and for the root itself).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of a valid path (empty for the root).
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// A chroot: a path prefix the client prepends to every request path and strips from every
/// path the server returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chroot(Option<String>);

impl Chroot {
    /// A chroot from the part of a connect string after the first `/`; `None`, empty or `/`
    /// mean no chroot.
    ///
    /// # Errors
    /// When the chroot is not a valid path.
    pub fn new(root: Option<&str>) -> Result<Self, PathError> {
        match root {
            None | Some("") | Some("/") => Ok(Self(None)),
            Some(r) => {
                validate_path(r)?;
                Ok(Self(Some(r.to_string())))
            }
        }
    }

    /// The chroot path, if any.
    pub fn root(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The server path for a client path.
    pub fn prepend(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) if path == "/" => root.clone(),
            Some(root) => format!("{root}{path}"),
        }
    }

    /// The client path for a server path (left alone if it is outside the chroot).
    pub fn strip(&self, server_path: &str) -> String {
        match &self.0 {
            None => server_path.to_string(),
            Some(root) => match server_path.strip_prefix(root.as_str()) {
                Some("") => "/".to_string(),
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => server_path.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_path_rules() {
        for ok in [
            "/",
            "/a",
            "/a/b",
            "/...",
            "/a.b",
            "/.a",
            "/a..",
            "/ünïcødé/日本",
            "/a b",
            "/zookeeper",
        ] {
            assert_eq!(validate_path(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "Path length must be > 0"),
            ("a", "Path must start with / character"),
            ("/a/", "Path must not end with / character"),
            ("//a", "empty node name specified @1"),
            ("/a//b", "empty node name specified @3"),
            ("/.", "relative paths not allowed @1"),
            ("/..", "relative paths not allowed @2"),
            ("/a/./b", "relative paths not allowed @3"),
            ("/a/../b", "relative paths not allowed @4"),
            ("/a\u{0}b", "null character not allowed @2"),
            ("/a\u{1}", "invalid character @2"),
            ("/\u{7f}", "invalid character @1"),
            ("/\u{9f}", "invalid character @1"),
            ("/\u{e000}", "invalid character @1"),
            ("/\u{fff0}", "invalid character @1"),
            ("/\u{1f600}", "invalid character @1"),
            // Positions count UTF-16 units, not bytes, past non-ASCII characters.
            ("/ü/.", "relative paths not allowed @3"),
            ("/日\u{1}", "invalid character @2"),
            ("/\u{1f600}/a//", "Path must not end with / character"),
        ] {
            assert_eq!(
                validate_path(bad).map_err(|e| e.reason),
                Err(why.to_string()),
                "{bad:?}"
            );
        }
        assert_eq!(validate_create_path("/a/", true), Ok(()));
        assert!(validate_create_path("/a/", false).is_err());
    }

    #[test]
    fn sequence_suffix_matches_java_format() {
        assert_eq!(sequence_suffix(0), "0000000000");
        assert_eq!(sequence_suffix(42), "0000000042");
        assert_eq!(sequence_suffix(i32::MAX), "2147483647");
        assert_eq!(sequence_suffix(i32::MIN), "-2147483648");
        assert_eq!(sequence_suffix(-1), "-000000001");
    }

    #[test]
    fn chroot_prepends_and_strips() {
        let c = Chroot::new(Some("/app")).expect("valid");
        assert_eq!(c.prepend("/"), "/app");
        assert_eq!(c.prepend("/x"), "/app/x");
        assert_eq!(c.strip("/app"), "/");
        assert_eq!(
            c.strip("/app/x"),
            "/app/x".strip_prefix("/app").unwrap_or_default()
        );
        assert_eq!(c.strip("/apple"), "/apple");
        assert_eq!(Chroot::new(Some("/")).expect("valid").root(), None);
        assert!(Chroot::new(Some("/app/")).is_err());
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(basename("/a/b"), "b");
    }
}
