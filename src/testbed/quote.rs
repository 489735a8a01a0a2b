//! Quoting an argument vector for a POSIX shell.
//!
//! An SSH `exec` request carries one string, which the remote user's login
//! shell parses. Every argument we send is quoted here, so that no byte of a
//! name, a path or a user's `run` line is ever interpreted by that shell.
//! The remote login shell must be POSIX-like (sh, dash, bash, ksh, zsh).

use crate::error::{Error, Result};
use std::borrow::Cow;

/// Bytes that need no quoting anywhere in a word (for the shells above).
fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b':' | b',' | b'+' | b'@' | b'%' | b'=')
}

/// Quote one argument so that a POSIX shell reads it back as exactly one
/// word with exactly these bytes. Plain words are left as they are; anything
/// else is put in single quotes, with each `'` written as `'\''`.
///
/// ```
/// use netbalance::testbed::quote::quote;
/// assert_eq!(quote("eth0"), "eth0");
/// assert_eq!(quote("a;rm -rf /"), "'a;rm -rf /'");
/// assert_eq!(quote("it's"), r"'it'\''s'");
/// assert_eq!(quote(""), "''");
/// ```
pub fn quote(arg: &str) -> Cow<'_, str> {
    // A leading '=' is special in zsh (=cmd expansion), a leading '-' is harmless
    // to the shell (it is the program's business), '~' is never plain.
    if !arg.is_empty() && arg.bytes().all(is_plain) && !arg.starts_with('=') {
        return Cow::Borrowed(arg);
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('\'');
    for c in arg.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Cow::Owned(out)
}

/// Join an argument vector into one shell command line. A NUL byte cannot be
/// passed in an argument at all and is refused.
///
/// ```
/// use netbalance::testbed::quote::join;
/// assert_eq!(join(&["echo", "$(reboot)"]).unwrap(), "echo '$(reboot)'");
/// assert!(join(&["echo", "a\0b"]).is_err());
/// ```
pub fn join<S: AsRef<str>>(argv: &[S]) -> Result<String> {
    let mut out = String::new();
    for (i, a) in argv.iter().enumerate() {
        let a = a.as_ref();
        if a.contains('\0') {
            return Err(Error::Host(format!("argument {i} contains a NUL byte: {a:?}")));
        }
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&quote(a));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const HOSTILE: &[&str] = &[
        "a;rm -rf /",
        "$(reboot)",
        "`reboot`",
        "${HOME}",
        "$HOME",
        "it's",
        "'",
        "''",
        "\"",
        "\"quoted\" and 'single'",
        "line1\nline2",
        "\n",
        "tab\there",
        "back\\slash\\",
        "*",
        "?",
        "[a-z]",
        "~",
        "~root",
        "=ls",
        "a b  c",
        " leading and trailing ",
        "-rf",
        "--",
        "|",
        "&",
        "a&&b||c",
        ">out",
        "<in",
        "#comment",
        "!",
        "!!",
        "{a,b}",
        "é ünïcödé ✓",
        "\u{7f}\u{1b}[31m",
        "",
    ];

    /// Run `printf '<%s>\n' ARGS` through a real shell and read the words back.
    fn roundtrip(shell: &str, args: &[&str]) -> Vec<String> {
        let mut argv = vec!["printf", "<%s>\\n"];
        argv.extend_from_slice(args);
        let line = join(&argv).unwrap();
        let out = Command::new(shell).arg("-c").arg(&line).output().expect("run shell");
        assert!(
            out.status.success(),
            "{shell} failed on {line:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        // Each word is printed as <word>\n; words may contain newlines themselves.
        let mut words = Vec::new();
        let mut rest = text.as_str();
        for a in args {
            let expect = format!("<{a}>\n");
            assert!(
                rest.starts_with(&expect),
                "{shell}: expected {expect:?}, output left {rest:?} (line {line:?})"
            );
            words.push(a.to_string());
            rest = &rest[expect.len()..];
        }
        assert_eq!(rest, "", "{shell}: extra output {rest:?}");
        words
    }

    #[test]
    fn hostile_strings_survive_sh_and_bash() {
        for shell in ["sh", "bash"] {
            if Command::new(shell).arg("-c").arg("true").status().is_err() {
                panic!("{shell} not found");
            }
            let got = roundtrip(shell, HOSTILE);
            assert_eq!(got, HOSTILE);
        }
    }

    #[test]
    fn hostile_strings_do_not_execute() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("pwned");
        let m = marker.to_str().unwrap();
        let attacks = [
            format!("$(touch {m})"),
            format!("`touch {m}`"),
            format!("x; touch {m}"),
            format!("x' ; touch {m}; echo '"),
            format!("x\ntouch {m}"),
            format!("x && touch {m}"),
            format!("x | touch {m}"),
        ];
        for a in &attacks {
            let line = join(&["echo", a]).unwrap();
            let out = Command::new("sh").arg("-c").arg(&line).output().unwrap();
            assert!(out.status.success());
            assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{a}\n"));
            assert!(!marker.exists(), "{line:?} ran a command");
        }
    }

    #[test]
    fn plain_words_stay_readable() {
        assert_eq!(
            join(&["ip", "-n", "nb0a1b2c3d-x", "link", "set", "eth0", "up"]).unwrap(),
            "ip -n nb0a1b2c3d-x link set eth0 up"
        );
        assert_eq!(
            join(&["nsenter", "--net=/run/netns/nbX"]).unwrap(),
            "nsenter --net=/run/netns/nbX"
        );
        assert_eq!(quote("=x"), "'=x'");
        assert_eq!(quote("~"), "'~'");
    }

    #[test]
    fn nul_is_refused() {
        let e = join(&["a", "b\0c"]).unwrap_err().to_string();
        assert!(e.contains("NUL"), "{e}");
    }
}
