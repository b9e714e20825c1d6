//! Command option parsing with the rules of Apache commons-cli 1.5's `DefaultParser`, which
//! every zkCli 3.8 command uses: options may appear anywhere, short flags bundle (`-sw`), an
//! option value may be attached (`-v3`, `-v=3`) or follow (`-v 3`, even `-v -1`), `--` ends
//! the options, and any other `-x` token is an error.

/// One option a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The option letter.
    pub name: char,
    /// Whether it takes a value.
    pub has_arg: bool,
}

/// A flag without a value.
pub const fn flag(name: char) -> Spec {
    Spec {
        name,
        has_arg: false,
    }
}

/// An option with a value.
pub const fn valued(name: char) -> Spec {
    Spec {
        name,
        has_arg: true,
    }
}

/// The parsed command line: options seen (in order) and the remaining arguments, the command
/// name first.
#[derive(Debug, Default)]
pub struct CommandLine {
    opts: Vec<(char, Option<String>)>,
    /// Non-option arguments, starting with the command name.
    pub args: Vec<String>,
}

impl CommandLine {
    /// Whether the option was given.
    pub fn has(&self, name: char) -> bool {
        self.opts.iter().any(|(c, _)| *c == name)
    }

    /// The first value given for the option.
    pub fn value(&self, name: char) -> Option<&str> {
        self.opts
            .iter()
            .find(|(c, _)| *c == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

fn unrecognized(token: &str) -> String {
    format!("org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: {token}")
}

fn missing(name: char) -> String {
    format!("org.apache.commons.cli.MissingArgumentException: Missing argument for option: {name}")
}

struct Parser<'a> {
    specs: &'a [Spec],
    cl: CommandLine,
    /// Index in `cl.opts` of an option still waiting for its value.
    pending: Option<usize>,
}

impl Parser<'_> {
    fn spec(&self, name: char) -> Option<Spec> {
        self.specs.iter().copied().find(|s| s.name == name)
    }

    fn single(&self, s: &str) -> Option<Spec> {
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => self.spec(c),
            _ => None,
        }
    }

    /// commons-cli `isShortOption`: `-S`, `-SV`, `-S=V` or bundled flags starting with a known one.
    fn is_option(&self, token: &str) -> bool {
        let Some(rest) = token.strip_prefix('-') else {
            return false;
        };
        if rest.is_empty() {
            return false;
        }
        let name = rest.split('=').next().unwrap_or(rest);
        let name = name.trim_start_matches('-');
        self.single(name).is_some() || name.chars().next().is_some_and(|c| self.spec(c).is_some())
    }

    /// commons-cli `isArgument`: not an option, or a number (`Double.parseDouble` succeeds).
    fn is_argument(&self, token: &str) -> bool {
        !self.is_option(token) || token.parse::<f64>().is_ok()
    }

    fn handle_option(&mut self, spec: Spec) -> Result<(), String> {
        self.check_pending()?;
        self.cl.opts.push((spec.name, None));
        if spec.has_arg {
            self.pending = Some(self.cl.opts.len() - 1);
        }
        Ok(())
    }

    fn set_value(&mut self, value: &str) {
        if let Some(i) = self.pending.take() {
            self.cl.opts[i].1 = Some(value.to_string());
        }
    }

    fn check_pending(&self) -> Result<(), String> {
        match self.pending {
            Some(i) => Err(missing(self.cl.opts[i].0)),
            None => Ok(()),
        }
    }

    fn short(&mut self, token: &str) -> Result<(), String> {
        let t = &token[1..];
        if let Some(spec) = self.single(t) {
            return self.handle_option(spec);
        }
        if let Some((opt, value)) = t.split_once('=') {
            return match self.single(opt) {
                Some(spec) if spec.has_arg => {
                    self.handle_option(spec)?;
                    self.set_value(value);
                    Ok(())
                }
                _ if opt.chars().count() == 1 => Err(unrecognized(token)),
                _ => Err(unrecognized(&token[..token.len() - value.len() - 1])),
            };
        }
        // Bundled options: each letter an option; a valued one takes the rest of the token.
        for (i, c) in t.char_indices() {
            let Some(spec) = self.spec(c) else {
                return Err(unrecognized(token));
            };
            self.handle_option(spec)?;
            let rest = &t[i + c.len_utf8()..];
            if spec.has_arg && !rest.is_empty() {
                self.set_value(rest);
                break;
            }
        }
        Ok(())
    }
}

/// Parses `tokens` (the command name first) against `specs`.
///
/// # Errors
/// The message zkCli prints for an unknown option or a missing option value.
pub fn parse(specs: &[Spec], tokens: &[String]) -> Result<CommandLine, String> {
    let mut p = Parser {
        specs,
        cl: CommandLine::default(),
        pending: None,
    };
    let mut only_args = false;
    for token in tokens {
        if only_args {
            p.cl.args.push(token.clone());
        } else if token == "--" {
            only_args = true;
        } else if p.pending.is_some() && p.is_argument(token) {
            p.set_value(token);
        } else if token.starts_with("--") {
            // No command has long options.
            let name = token.split('=').next().unwrap_or(token);
            return Err(unrecognized(name));
        } else if token.starts_with('-') && token != "-" {
            p.short(token)?;
        } else {
            p.cl.args.push(token.clone());
        }
    }
    p.check_pending()?;
    Ok(p.cl)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    const SET: &[Spec] = &[flag('s'), valued('v')];

    #[test]
    fn parses_like_commons_cli() {
        let cl = parse(SET, &toks("set -s /a x -v 3")).expect("parses");
        assert!(cl.has('s'));
        assert_eq!(cl.value('v'), Some("3"));
        assert_eq!(cl.args, ["set", "/a", "x"]);

        let cl = parse(SET, &toks("set -sv3 /a x")).expect("parses");
        assert_eq!(cl.value('v'), Some("3"));
        let cl = parse(SET, &toks("set -v=7 /a x")).expect("parses");
        assert_eq!(cl.value('v'), Some("7"));
        let cl = parse(SET, &toks("set -v -1 /a x")).expect("parses");
        assert_eq!(cl.value('v'), Some("-1"));
        let cl = parse(SET, &toks("set /a -- -x")).expect("parses");
        assert_eq!(cl.args, ["set", "/a", "-x"]);
        let cl = parse(SET, &toks("set /a -")).expect("parses");
        assert_eq!(cl.args, ["set", "/a", "-"]);
    }

    #[test]
    fn reports_errors_like_commons_cli() {
        let e = parse(SET, &toks("set /a -1")).expect_err("unknown");
        assert_eq!(
            e,
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -1"
        );
        let e = parse(SET, &toks("set -sx /a")).expect_err("unknown");
        assert!(e.ends_with("Unrecognized option: -sx"), "{e}");
        let e = parse(SET, &toks("set /a x -v")).expect_err("missing");
        assert_eq!(
            e,
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
        );
        let e = parse(SET, &toks("set -v -s /a x")).expect_err("missing");
        assert!(e.ends_with("Missing argument for option: v"), "{e}");
        let e = parse(SET, &toks("set --long /a")).expect_err("long");
        assert!(e.ends_with("Unrecognized option: --long"), "{e}");
    }
}
