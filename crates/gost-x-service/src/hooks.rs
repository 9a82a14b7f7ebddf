//! Service hooks (`preUp`, `postUp`, `preDown`, `postDown`): lists of commands run as gost runs
//! them: split like a shell would (quotes and backslashes) but without a shell, output
//! inherited, a failure logged as a warning.

/// The four hook lists of a service.
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Run when the service is created.
    pub pre_up: Vec<String>,
    /// Run when it starts serving, before it is ready.
    pub post_up: Vec<String>,
    /// Run when it starts closing.
    pub pre_down: Vec<String>,
    /// Run when it has closed.
    pub post_down: Vec<String>,
}

/// Splits a command line into words like a POSIX shell (single and double quotes, backslash
/// escapes), without expansions. `None` for an unterminated quote.
pub fn split(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                word.push(chars.next()?);
                in_word = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => {
                            let next = chars.next()?;
                            if !matches!(next, '"' | '\\' | '$' | '`') {
                                word.push('\\');
                            }
                            word.push(next);
                        }
                        c => word.push(c),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// Runs `commands` one after another, blocking. Failures are warnings.
pub fn run(service: &str, hook: &str, commands: &[String]) {
    for line in commands {
        let Some(words) = split(line) else {
            tracing::warn!(service, hook, "unterminated quote in {line:?}");
            continue;
        };
        let Some((program, args)) = words.split_first() else { continue };
        tracing::debug!(service, hook, "run {line:?}");
        match std::process::Command::new(program).args(args).status() {
            Ok(status) if status.success() => {}
            Ok(status) => tracing::warn!(service, hook, "{line:?} exited with {status}"),
            Err(err) => tracing::warn!(service, hook, "{line:?}: {err}"),
        }
    }
}

/// Runs `commands` without blocking the runtime.
pub async fn run_async(service: &str, hook: &'static str, commands: &[String]) {
    if commands.is_empty() {
        return;
    }
    let (service, commands) = (service.to_owned(), commands.to_vec());
    let _ = tokio::task::spawn_blocking(move || run(&service, hook, &commands)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_like_splitting() {
        assert_eq!(split("echo pre-up").unwrap(), ["echo", "pre-up"]);
        assert_eq!(
            split(r#"sh -c 'echo "a b" > f'  x\ y "q\"t""#).unwrap(),
            ["sh", "-c", r#"echo "a b" > f"#, "x y", "q\"t"]
        );
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split("''").unwrap(), [""]);
        assert!(split("echo 'open").is_none());
    }
}
