//! Diagnostics: what is wrong in a policy file, and where.

use std::fmt;
use std::path::{Path, PathBuf};

/// One error found in a policy file.
///
/// Displayed as ``file:line:column: key `policy[2].ports[0]`: message``. Lines and columns
/// count from 1; columns count characters (not bytes). A problem without a key (a TOML syntax
/// error) omits the ``key `…`: `` part; a whole-file problem (the file cannot be read) has line
/// and column 0 and is displayed as `file: message`.
///
/// Key paths index arrays from 0: `policy[0]` is the first `[[policy]]` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The policy file.
    pub file: PathBuf,
    /// 1-based line of the offending key or value; 0 for the whole file.
    pub line: u32,
    /// 1-based column (in characters) of the offending key or value; 0 for the whole file.
    pub column: u32,
    /// Path of the offending key or value, e.g. `policy[2].ports[0]`; empty when there is none.
    pub key: String,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file.display())?;
        } else {
            write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        }
        if !self.key.is_empty() {
            write!(f, "key `{}`: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// Maps byte offsets of one file's text to 1-based line:column positions (columns in characters).
#[derive(Debug)]
pub(crate) struct LineIndex<'t> {
    file: &'t Path,
    text: &'t str,
    lines: vigil_textpos::LineIndex,
}

impl<'t> LineIndex<'t> {
    /// Index `text`, the content of `file`.
    pub(crate) fn new(file: &'t Path, text: &'t str) -> Self {
        LineIndex {
            file,
            text,
            lines: vigil_textpos::LineIndex::new(text),
        }
    }

    /// A diagnostic at byte `offset` (clamped to the text).
    pub(crate) fn diagnostic(&self, offset: usize, key: &str, message: String) -> Diagnostic {
        let (line, column) = self.lines.position(self.text, offset);
        Diagnostic {
            file: self.file.to_path_buf(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            key: key.to_string(),
            message,
        }
    }
}

/// A whole-file diagnostic (line 0), e.g. an unreadable file.
pub(crate) fn whole_file(file: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: 0,
        column: 0,
        key: String::new(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let index = LineIndex::new(Path::new("f"), "ab\nçd\n\nx");
        let at = |o| {
            let d = index.diagnostic(o, "", String::new());
            (d.line, d.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(2), (1, 3));
        assert_eq!(at(3), (2, 1));
        assert_eq!(at(5), (2, 2));
        assert_eq!(at(8), (4, 1));
        assert_eq!(at(99), (4, 2));
    }

    #[test]
    fn display_forms() {
        let mut d = Diagnostic {
            file: PathBuf::from("p.toml"),
            line: 3,
            column: 9,
            key: "policy[0].ports[1]".into(),
            message: "bad".into(),
        };
        assert_eq!(d.to_string(), "p.toml:3:9: key `policy[0].ports[1]`: bad");
        d.key.clear();
        assert_eq!(d.to_string(), "p.toml:3:9: bad");
        let w = whole_file(Path::new("p.toml"), "cannot read".into());
        assert_eq!(w.to_string(), "p.toml: cannot read");
    }
}
