//! Names inside a zip, checked before anything touches the disk.
//!
//! A zip entry name and a symlink target are untrusted text. [`parse_name`] turns a name into
//! plain path components that can only point inside the code directory, or says why not.
//! [`LinkResolver`] follows symlink targets through the archive's other symlinks, the way
//! the kernel will at run time, and refuses any that leave the directory. No I/O here.

use std::collections::{BTreeMap, HashMap};

/// A path inside the code directory: plain components, never empty, `.` or `..`.
pub(crate) type Components = Vec<String>;

/// The longest symlink target Linux accepts (`PATH_MAX` minus the NUL).
pub(crate) const MAX_LINK_TARGET: usize = 4095;
/// How deeply symlinks may lead through other symlinks (the kernel's `MAXSYMLINKS`).
const MAX_LINK_DEPTH: usize = 40;
/// The longest file name most Linux file systems accept.
const MAX_COMPONENT: usize = 255;

/// Why a zip entry was refused. Each reads after `zip entry "<name>"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("contains a NUL byte")]
    Nul,
    #[error("is an absolute path")]
    Absolute,
    #[error("starts with a windows drive prefix")]
    DrivePrefix,
    #[error("contains a '..' component, which would leave the code directory")]
    ParentDir,
    #[error("has an empty name")]
    EmptyName,
    #[error("has a path component longer than {MAX_COMPONENT} bytes")]
    ComponentTooLong,
    #[error("appears more than once")]
    Duplicate,
    #[error("is inside {0:?}, which is a file")]
    InsideFile(String),
    #[error("is inside {0:?}, which is a symlink; entries must not be written through symlinks")]
    ThroughSymlink(String),
    #[error("is a symlink with an empty target")]
    EmptyTarget,
    #[error("is a symlink whose target is not utf-8 text of at most {MAX_LINK_TARGET} bytes")]
    BadTarget,
    #[error("is a symlink to the absolute path {0:?}; use a path relative to the link")]
    AbsoluteTarget(String),
    #[error("is a symlink whose target {0:?} resolves outside the code directory")]
    TargetEscapes(String),
    #[error("is a symlink that goes through more than {MAX_LINK_DEPTH} nested symlinks")]
    LinkLoop,
}

/// Turns a raw zip entry name into components. Backslashes count as separators (zips made
/// on Windows use them, and Info-ZIP reads them that way). An empty result means the code
/// directory itself (a name like `./`); the caller decides whether that is allowed.
pub(crate) fn parse_name(raw: &[u8], name: &str) -> Result<Components, EntryProblem> {
    if raw.contains(&0) || name.contains('\0') {
        return Err(EntryProblem::Nul);
    }
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        return Err(EntryProblem::Absolute);
    }
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(EntryProblem::DrivePrefix);
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(EntryProblem::ParentDir),
            p if p.len() > MAX_COMPONENT => return Err(EntryProblem::ComponentTooLong),
            p => parts.push(p.to_owned()),
        }
    }
    Ok(parts)
}

/// Checks a symlink target's text. The target is kept as written (the kernel reads it, not
/// us), so a backslash in it is an ordinary character.
pub(crate) fn check_target(target: &str) -> Result<(), EntryProblem> {
    if target.is_empty() {
        return Err(EntryProblem::EmptyTarget);
    }
    if target.contains('\0') {
        return Err(EntryProblem::Nul);
    }
    if target.starts_with('/') {
        return Err(EntryProblem::AbsoluteTarget(target.to_owned()));
    }
    Ok(())
}

/// Follows symlink targets lexically through the archive's own symlinks.
///
/// Each link's resolution is remembered, so a chain of links that each point through the
/// previous one twice costs linear, not exponential, work.
pub(crate) struct LinkResolver<'a> {
    links: &'a BTreeMap<Components, String>,
    memo: HashMap<Components, Option<Components>>,
}

impl<'a> LinkResolver<'a> {
    /// `links` maps every symlink in the archive to its (checked) target.
    pub(crate) fn new(links: &'a BTreeMap<Components, String>) -> Self {
        Self {
            links,
            memo: HashMap::new(),
        }
    }

    /// Where the symlink at `link` ends up, as a path inside the code directory.
    pub(crate) fn resolve(&mut self, link: &[String]) -> Result<Components, EntryProblem> {
        let target = self.links.get(link).map(String::as_str).unwrap_or_default();
        match self.follow(link, 0) {
            Ok(Some(path)) => Ok(path),
            Ok(None) => Err(EntryProblem::TargetEscapes(target.to_owned())),
            Err(Loop) => Err(EntryProblem::LinkLoop),
        }
    }

    /// `Ok(None)`: the link leaves the directory.
    fn follow(&mut self, link: &[String], depth: usize) -> Result<Option<Components>, Loop> {
        if let Some(done) = self.memo.get(link) {
            return Ok(done.clone());
        }
        if depth >= MAX_LINK_DEPTH {
            return Err(Loop);
        }
        let Some(target) = self.links.get(link) else {
            return Ok(Some(link.to_vec()));
        };
        let mut here: Components = link[..link.len().saturating_sub(1)].to_vec();
        let mut inside = !target.starts_with('/');
        for part in target.split('/') {
            if !inside {
                break;
            }
            match part {
                "" | "." => {}
                ".." => inside = here.pop().is_some(),
                p => {
                    here.push(p.to_owned());
                    if self.links.contains_key(&here) {
                        match self.follow(&here.clone(), depth + 1)? {
                            Some(resolved) => here = resolved,
                            None => inside = false,
                        }
                    }
                }
            }
        }
        let result = inside.then_some(here);
        self.memo.insert(link.to_vec(), result.clone());
        Ok(result)
    }
}

struct Loop;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(name: &str) -> Result<Components, EntryProblem> {
        parse_name(name.as_bytes(), name)
    }

    fn links(pairs: &[(&str, &str)]) -> BTreeMap<Components, String> {
        pairs
            .iter()
            .map(|(l, t)| (parse(l).expect("test link name is valid"), (*t).to_owned()))
            .collect()
    }

    fn resolve(pairs: &[(&str, &str)], link: &str) -> Result<Components, EntryProblem> {
        let links = links(pairs);
        LinkResolver::new(&links).resolve(&parse(link).expect("test link name is valid"))
    }

    #[test]
    fn plain_names_become_components() {
        assert_eq!(parse("a/b/c.py").unwrap(), ["a", "b", "c.py"]);
        assert_eq!(parse("./a//b/").unwrap(), ["a", "b"]);
        assert_eq!(parse("dir\\file.js").unwrap(), ["dir", "file.js"]);
        assert!(parse("./").unwrap().is_empty());
    }

    #[test]
    fn escaping_names_are_refused_with_the_reason() {
        assert_eq!(parse("../evil"), Err(EntryProblem::ParentDir));
        assert_eq!(parse("a/../../evil"), Err(EntryProblem::ParentDir));
        assert_eq!(parse("..\\evil"), Err(EntryProblem::ParentDir));
        assert_eq!(parse("/etc/x"), Err(EntryProblem::Absolute));
        assert_eq!(parse("\\\\server\\share"), Err(EntryProblem::Absolute));
        assert_eq!(parse("C:\\Windows\\x"), Err(EntryProblem::DrivePrefix));
        assert_eq!(parse("c:x"), Err(EntryProblem::DrivePrefix));
        assert_eq!(parse_name(b"a\0b", "a\0b"), Err(EntryProblem::Nul));
        assert_eq!(parse(&"x".repeat(256)), Err(EntryProblem::ComponentTooLong));
    }

    #[test]
    fn targets_are_checked_as_text() {
        assert_eq!(check_target(""), Err(EntryProblem::EmptyTarget));
        assert!(matches!(
            check_target("/etc/passwd"),
            Err(EntryProblem::AbsoluteTarget(_))
        ));
        assert!(check_target("../lib/x.so").is_ok());
    }

    #[test]
    fn links_inside_the_directory_resolve() {
        assert_eq!(
            resolve(&[("bin/run", "../lib/run")], "bin/run").unwrap(),
            ["lib", "run"]
        );
        assert_eq!(
            resolve(&[("here", ".")], "here").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn links_that_leave_the_directory_are_refused() {
        assert!(matches!(
            resolve(&[("x", "..")], "x"),
            Err(EntryProblem::TargetEscapes(_))
        ));
        assert!(matches!(
            resolve(&[("a/x", "../../etc")], "a/x"),
            Err(EntryProblem::TargetEscapes(_))
        ));
    }

    #[test]
    fn links_are_followed_through_other_links() {
        // Lexically "d/../z" is "z", but d is the root, so its parent is outside.
        let pairs = [("sub/d", ".."), ("y", "sub/d/../z")];
        assert!(matches!(
            resolve(&pairs, "y"),
            Err(EntryProblem::TargetEscapes(_))
        ));
        let pairs = [("sub/deep/d", "../.."), ("y", "sub/deep/d/x")];
        assert_eq!(resolve(&pairs, "y").unwrap(), ["x"]);
    }

    #[test]
    fn link_loops_and_deep_chains_are_refused() {
        assert_eq!(
            resolve(&[("a", "b"), ("b", "a")], "a"),
            Err(EntryProblem::LinkLoop)
        );
        let chain: Vec<(String, String)> = (1..60)
            .map(|i| (format!("l{i}"), format!("l{}/l{}", i - 1, i - 1)))
            .collect();
        let mut pairs: Vec<(&str, &str)> = vec![("l0", ".")];
        pairs.extend(chain.iter().map(|(l, t)| (l.as_str(), t.as_str())));
        assert_eq!(resolve(&pairs, "l59"), Err(EntryProblem::LinkLoop));
        assert_eq!(resolve(&pairs, "l30").unwrap(), Vec::<String>::new());
    }

    proptest! {
        /// Whatever the name, a parsed path is plain components, so joining it to the
        /// destination can only name something below the destination.
        #[test]
        fn parsed_names_never_leave_the_destination(
            name in proptest::string::string_regex(r"([a-zA-Z.:\\/\x00 ]|\.\.){0,24}")
                .expect("the regex is valid")
        ) {
            if let Ok(parts) = parse(&name) {
                let dest = std::path::Path::new("/dest");
                let joined = parts.iter().fold(dest.to_path_buf(), |p, c| p.join(c));
                prop_assert!(joined.starts_with(dest));
                for part in &parts {
                    prop_assert!(!part.is_empty() && part != "." && part != "..");
                    prop_assert!(!part.contains('/') && !part.contains('\0'));
                }
                let normal = joined.components().skip(2).all(|c| {
                    matches!(c, std::path::Component::Normal(_))
                });
                prop_assert!(normal);
            }
        }
    }
}
