//! Positions in text files: a byte offset becomes a 1-based line and a 1-based column counted
//! in characters, and an error tied to a position prints as `file:line:column: reason` (or
//! `file: reason` when it concerns the whole file). Every Vigil loader reports this way.

use std::fmt;

/// Where each line of a text starts, for turning byte offsets into lines and columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }

    /// The 1-based line and column (in characters) of byte `offset` of `text`, the text this
    /// index was built from. An offset past the end is clamped to the end; one inside a
    /// character counts as that character.
    pub fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        let column = text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }
}

/// The position of one byte offset, without keeping an index.
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    LineIndex::new(text).position(text, offset)
}

/// An error at a place in a file (line 0: about the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    file: String,
    line: usize,
    column: usize,
    reason: String,
}

impl FileError {
    /// An error at `line`:`column` of `file`.
    pub fn new(
        file: impl Into<String>,
        line: usize,
        column: usize,
        reason: impl Into<String>,
    ) -> FileError {
        FileError {
            file: file.into(),
            line,
            column,
            reason: reason.into(),
        }
    }

    /// An error about the whole file (unreadable, not UTF-8, ...).
    pub fn whole_file(file: impl Into<String>, reason: impl Into<String>) -> FileError {
        FileError::new(file, 0, 0, reason)
    }

    /// The file (or the source name given by the caller).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line (0 when about the whole file).
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column in characters (0 when about the whole file).
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.reason
            )
        }
    }
}

impl std::error::Error for FileError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_character_columns() {
        let text = "ab\nçé=1\n\nlast";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), (1, 1));
        assert_eq!(index.position(text, 2), (1, 3));
        assert_eq!(index.position(text, 3), (2, 1));
        assert_eq!(
            index.position(text, 7),
            (2, 3),
            "two 2-byte characters before '='"
        );
        assert_eq!(index.position(text, 10), (3, 1));
        assert_eq!(index.position(text, 999), (4, 5), "clamped to the end");
        assert_eq!(position(text, 11), (4, 1));
    }

    #[test]
    fn display_forms() {
        assert_eq!(
            FileError::new("a.sql", 3, 7, "bad").to_string(),
            "a.sql:3:7: bad"
        );
        assert_eq!(
            FileError::whole_file("a.sql", "unreadable").to_string(),
            "a.sql: unreadable"
        );
    }
}
