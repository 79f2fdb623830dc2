//! A reader for Java `.properties` text, the format of ZooKeeper's `zoo.cfg`.
//!
//! Follows `java.util.Properties.load`: `key=value`, `key: value` and
//! `key value` separators, `#`/`!` comment lines, backslash line continuation
//! (leading whitespace of the continuation line dropped), and the escapes
//! `\t \n \r \f \uXXXX` plus `\x` for any other `x`. Like ZooKeeper's
//! `QuorumPeerConfig`, keys and values are then trimmed.

/// One `key = value` entry with the 1-based line it starts on, so that errors
/// can point at the offending line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// Parses `.properties` text into its entries, in file order (a later
/// duplicate key overrides an earlier one when applied in order, as with
/// `Properties`). Fails only on a malformed `\uXXXX` escape.
pub(crate) fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let natural: Vec<&str> = split_natural_lines(text);
    let mut entries = Vec::new();
    let mut i = 0;
    while i < natural.len() {
        let start_line = i + 1;
        let first = skip_leading_ws(natural[i]);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::from(first);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match natural.get(i) {
                Some(next) => {
                    logical.push_str(skip_leading_ws(next));
                    i += 1;
                }
                None => break,
            }
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key).map_err(|e| format!("line {start_line}: {e}"))?;
        let value = unescape(raw_value).map_err(|e| format!("line {start_line}: {e}"))?;
        entries.push(Entry {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            line: start_line,
        });
    }
    Ok(entries)
}

/// Splits on `\n`, `\r\n` or a lone `\r`, as Java's line reader does.
fn split_natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut pos = 0;
    while pos < bytes.len() {
        match bytes[pos] {
            b'\n' => {
                lines.push(&text[start..pos]);
                pos += 1;
                start = pos;
            }
            b'\r' => {
                lines.push(&text[start..pos]);
                pos += 1;
                if bytes.get(pos) == Some(&b'\n') {
                    pos += 1;
                }
                start = pos;
            }
            _ => pos += 1,
        }
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\u{c}'
}

fn skip_leading_ws(s: &str) -> &str {
    s.trim_start_matches(is_ws)
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits a logical line at the first unescaped `=`, `:` or whitespace;
/// whitespace around a single `=`/`:` separator is skipped.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    let mut sep: Option<char> = None;
    for (idx, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_ws(c) {
            key_end = idx;
            sep = Some(c);
            break;
        }
    }
    let key = &line[..key_end];
    let Some(sep) = sep else {
        return (key, "");
    };
    let mut rest = &line[key_end + sep.len_utf8()..];
    rest = skip_leading_ws(rest);
    if is_ws(sep) {
        if let Some(stripped) = rest.strip_prefix(['=', ':']) {
            rest = skip_leading_ws(stripped);
        }
    }
    (key, rest)
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("malformed \\uxxxx escape: \\u{hex}"))?;
                out.push(code);
            }
            Some(other) => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        match parse(text) {
            Ok(entries) => entries.into_iter().map(|e| (e.key, e.value)).collect(),
            Err(e) => panic!("parse failed: {e}"),
        }
    }

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn separators_and_comments() {
        let text = "# comment\n! also comment\n\n  a=1\nb: 2\nc 3\nd = 4 \ne\t:\t5\nf\ng=\n";
        assert_eq!(
            pairs(text),
            vec![
                p("a", "1"),
                p("b", "2"),
                p("c", "3"),
                p("d", "4"),
                p("e", "5"),
                p("f", ""),
                p("g", "")
            ]
        );
    }

    #[test]
    fn value_keeps_later_separators() {
        assert_eq!(
            pairs("server.1=127.0.0.1:2888:3888;2181\nx = a=b"),
            vec![p("server.1", "127.0.0.1:2888:3888;2181"), p("x", "a=b")]
        );
    }

    #[test]
    fn continuation_lines() {
        let text = "list = a,\\\n       b,\\\n   c\nnext=1\r\nlast=\\\\\nz=2";
        assert_eq!(
            pairs(text),
            vec![
                p("list", "a,b,c"),
                p("next", "1"),
                p("last", "\\"),
                p("z", "2")
            ]
        );
    }

    #[test]
    fn comment_lines_do_not_continue() {
        assert_eq!(pairs("# note \\\na=1"), vec![p("a", "1")]);
    }

    #[test]
    fn escapes() {
        assert_eq!(
            pairs("my\\ key\\:x = C:\\\\zk\\\\data\nu=\\u0041\\t"),
            vec![p("my key:x", "C:\\zk\\data"), p("u", "A")]
        );
        assert!(parse("u=\\u00zz").is_err());
    }

    #[test]
    fn line_numbers_point_at_entry_start() -> Result<(), String> {
        let entries = parse("# c\n\na=1\\\n 2\nb=3\r")?;
        assert_eq!(entries[0].line, 3);
        assert_eq!(entries[0].value, "12");
        assert_eq!(entries[1].line, 5);
        Ok(())
    }
}
