//! Byte offsets to 1-based line:column locations.

use std::path::{Path, PathBuf};

use crate::model::Location;

/// Maps byte offsets of one file's text to [`Location`]s (columns count characters).
#[derive(Debug)]
pub(crate) struct LineIndex<'t> {
    file: PathBuf,
    text: &'t str,
    lines: vigil_textpos::LineIndex,
}

impl<'t> LineIndex<'t> {
    /// Index `text`, the content of `file`.
    pub(crate) fn new(file: &Path, text: &'t str) -> Self {
        LineIndex {
            file: file.to_path_buf(),
            text,
            lines: vigil_textpos::LineIndex::new(text),
        }
    }

    /// The location of byte `offset` (clamped to the text).
    pub(crate) fn location(&self, offset: usize) -> Location {
        let (line, column) = self.lines.position(self.text, offset);
        Location {
            file: self.file.clone(),
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

/// A location meaning "the whole file" (line 0).
pub(crate) fn whole_file(file: &Path) -> Location {
    Location {
        file: file.to_path_buf(),
        line: 0,
        column: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let index = LineIndex::new(Path::new("f"), "ab\nçd\n\nx");
        let at = |o| {
            let l = index.location(o);
            (l.line, l.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(2), (1, 3));
        assert_eq!(at(3), (2, 1));
        assert_eq!(at(5), (2, 2)); // after the two-byte 'ç'
        assert_eq!(at(7), (3, 1));
        assert_eq!(at(8), (4, 1));
        assert_eq!(at(9), (4, 2));
        assert_eq!(at(100), (4, 2));
    }
}
