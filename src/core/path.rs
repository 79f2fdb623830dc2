//! znode path rules (ZooKeeper's `PathUtils.validatePath`).

/// Why a path is refused. Always answered as `BadArguments`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPath(pub &'static str);

/// Checks a client-supplied path. A sequential create validates the path with
/// a digit appended, so a trailing `/` is allowed there.
pub fn validate(path: &str, sequential: bool) -> Result<(), InvalidPath> {
    if sequential {
        return validate(&format!("{path}1"), false);
    }
    if path.is_empty() {
        return Err(InvalidPath("path must not be empty"));
    }
    if !path.starts_with('/') {
        return Err(InvalidPath("path must start with /"));
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(InvalidPath("path must not end with /"));
    }
    for seg in path[1..].split('/') {
        match seg {
            "" => return Err(InvalidPath("empty node name")),
            "." | ".." => return Err(InvalidPath("relative paths not allowed")),
            _ => {}
        }
    }
    for c in path.chars() {
        let bad = c == '\0'
            || ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{e000}'..='\u{f8ff}').contains(&c)
            || ('\u{fff0}'..='\u{ffff}').contains(&c);
        if bad {
            return Err(InvalidPath("invalid character"));
        }
    }
    Ok(())
}

/// The parent of a valid path (`/` for top-level nodes and for `/` itself).
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last segment of a valid path.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// True when `path` is `ancestor` or lies below it.
pub fn is_under(path: &str, ancestor: &str) -> bool {
    ancestor == "/"
        || path == ancestor
        || (path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_zookeeper() {
        assert!(validate("/", false).is_ok());
        assert!(validate("/a/b", false).is_ok());
        assert!(validate("/a/", true).is_ok());
        for bad in [
            "", "a", "/a/", "//a", "/a//b", "/.", "/a/..", "/a\0b", "/a\u{1}",
        ] {
            assert!(validate(bad, false).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parent_and_name() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert!(is_under("/a/b", "/a"));
        assert!(!is_under("/ab", "/a"));
        assert!(is_under("/x", "/"));
    }
}
