//! The process's command line, as zkCli's `MyCommandOptions.parseOptions`: options
//! (`-server`, `-timeout`, `-r`, ...) up to the first word that is not one, which starts the
//! command to run once.

/// Parsed process arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessArgs {
    /// Connect string (`-server`), default `127.0.0.1:2181`.
    pub server: String,
    /// Session timeout in milliseconds (`-timeout`), default 30000.
    pub timeout_ms: u64,
    /// Allow read-only servers (`-r`).
    pub read_only: bool,
    /// A command to run instead of reading commands.
    pub command: Option<Vec<String>>,
    /// Print usage and exit (`-help`, `--help`, `-h`).
    pub help: bool,
    /// `-client-configuration`, accepted but not supported.
    pub client_configuration: Option<String>,
}

/// Parses the process arguments (without the program name).
///
/// # Errors
/// A message for an option without its value or a bad `-timeout`.
pub fn parse(args: &[String]) -> Result<ProcessArgs, String> {
    let mut p = ProcessArgs {
        server: "127.0.0.1:2181".into(),
        timeout_ms: 30_000,
        read_only: false,
        command: None,
        help: false,
        client_configuration: None,
    };
    let mut it = args.iter();
    while let Some(opt) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("Error: no argument found for option {opt}"))
        };
        match opt.as_str() {
            "-server" => p.server = value()?,
            "-timeout" => {
                let v = value()?;
                p.timeout_ms = v
                    .parse()
                    .map_err(|_| format!("Error: invalid -timeout value {v}"))?;
            }
            "-r" => p.read_only = true,
            "-client-configuration" => p.client_configuration = Some(value()?),
            "-help" | "--help" | "-h" => p.help = true,
            // Accepted for compatibility: zk-cli always waits for the connection.
            "-waitforconnection" => {}
            o if !o.starts_with('-') => {
                let mut cmd = vec![opt.clone()];
                cmd.extend(it.cloned());
                p.command = Some(cmd);
                break;
            }
            // zkCli ignores options it does not know.
            _ => {}
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_like_zkcli() {
        let p = parse(&v("-server h:1 -timeout 5000 -r ls -s /")).expect("parses");
        assert_eq!(p.server, "h:1");
        assert_eq!(p.timeout_ms, 5000);
        assert!(p.read_only);
        assert_eq!(p.command, Some(v("ls -s /")));
        let p = parse(&[]).expect("parses");
        assert_eq!(p.server, "127.0.0.1:2181");
        assert_eq!(p.command, None);
        assert!(parse(&v("-server")).is_err());
    }
}
