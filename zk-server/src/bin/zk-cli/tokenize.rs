//! Splitting an interactive line into arguments exactly as zkCli's `MyCommandOptions` does:
//! the regex `\s*([^"']\S*|"[^"]*"|'[^']*')\s*` applied with `find()`, then one pair of
//! surrounding quotes stripped from each argument.

/// Java's `\s` (ASCII whitespace, including vertical tab).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Splits `line` into arguments; quoted arguments may hold spaces.
pub fn tokenize(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut args = Vec::new();
    let mut from = 0;
    while from < chars.len() {
        match find(&chars, from) {
            Some((start, end, next)) => {
                args.push(unquote(&chars[start..end]));
                // An empty match cannot happen (the group needs a character), so this advances.
                from = next;
            }
            None => break,
        }
    }
    args
}

/// The leftmost match at or after `from`: (group start, group end, match end).
fn find(chars: &[char], from: usize) -> Option<(usize, usize, usize)> {
    (from..chars.len()).find_map(|start| match_at(chars, start))
}

/// Matches the pattern at exactly `start`, backtracking the leading `\s*` like a regex engine.
fn match_at(chars: &[char], start: usize) -> Option<(usize, usize, usize)> {
    let mut ws_end = start;
    while ws_end < chars.len() && is_space(chars[ws_end]) {
        ws_end += 1;
    }
    (start..=ws_end).rev().find_map(|g| {
        let end = group_at(chars, g)?;
        let mut next = end;
        while next < chars.len() && is_space(chars[next]) {
            next += 1;
        }
        Some((g, end, next))
    })
}

/// The end of the group `[^"']\S*|"[^"]*"|'[^']*'` starting at `g`.
fn group_at(chars: &[char], g: usize) -> Option<usize> {
    let c = *chars.get(g)?;
    if c == '"' || c == '\'' {
        let close = chars[g + 1..].iter().position(|&x| x == c)?;
        return Some(g + 1 + close + 1);
    }
    let mut end = g + 1;
    while end < chars.len() && !is_space(chars[end]) {
        end += 1;
    }
    Some(end)
}

/// Strips one pair of matching surrounding quotes (`^(['"])(.*)(\1)$`).
fn unquote(arg: &[char]) -> String {
    if arg.len() >= 2 {
        let (first, last) = (arg[0], arg[arg.len() - 1]);
        if (first == '"' || first == '\'') && first == last {
            return arg[1..arg.len() - 1].iter().collect();
        }
    }
    arg.iter().collect()
}

#[cfg(test)]
mod tests {
    use super::tokenize;

    #[test]
    fn splits_like_zkcli() {
        assert_eq!(tokenize("ls /"), ["ls", "/"]);
        assert_eq!(tokenize("  set   /a  \"b c\" "), ["set", "/a", "b c"]);
        assert_eq!(tokenize("set /a 'x \"y\"'"), ["set", "/a", "x \"y\""]);
        assert_eq!(tokenize("create /a ''"), ["create", "/a", ""]);
        assert_eq!(tokenize("set /a 'abc'def"), ["set", "/a", "abc", "def"]);
        assert_eq!(tokenize("set /a a\"b c\""), ["set", "/a", "a\"b", "c\""]);
        // An unterminated quote is skipped, as the regex finds the next match after it.
        assert_eq!(
            tokenize("set /r \"unterminated"),
            ["set", "/r", "unterminated"]
        );
        // At the start of a line the leading blank backtracks into the argument.
        assert_eq!(tokenize(" \"abc"), [" \"abc"]);
        // As in Java, a blank line is one blank argument (the shell skips such lines).
        assert_eq!(tokenize("   "), [" "]);
        assert!(tokenize("").is_empty());
    }
}
