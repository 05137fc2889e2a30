//! The small MySQL dialect of OSSIM's data files, shared by every table
//! loader of this crate ([`crate::sid_table`], [`crate::references`]).
//!
//! [`lexer`] turns text into tokens with 1-based line and column; [`insert`]
//! parses `INSERT`/`REPLACE … VALUES` statements into records checked against
//! a table schema, and counts every other statement as skipped. A loader
//! only describes its tables and turns records into rows. [`SqlError`] is the
//! one error type of all loaders.

pub(crate) mod insert;
pub(crate) mod lexer;

use std::fmt;
use std::path::{Path, PathBuf};

use lexer::Located;

/// A load error with its place: `file:line:column: reason`.
///
/// Lines and columns are 1-based; columns count characters. For errors that
/// have no place in the text (reading a file or directory) both are 0 and
/// the display is `file: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SqlError {
    file: String,
    line: usize,
    column: usize,
    reason: String,
}

impl SqlError {
    pub(crate) fn at(file: &str, located: Located) -> Self {
        Self {
            file: file.to_owned(),
            line: located.pos.line,
            column: located.pos.column,
            reason: located.reason,
        }
    }

    pub(crate) fn io(path: &Path, what: &str, error: &std::io::Error) -> Self {
        Self {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            reason: format!("cannot {what}: {error}"),
        }
    }

    /// The source name given to `load_sql`, or the file path.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// 1-based line of the offending token (0 if not tied to the text).
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column, in characters, of the offending token (0 if not tied
    /// to the text).
    pub fn column(&self) -> usize {
        self.column
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for SqlError {
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

/// The files `load_path` reads: `path` itself when it is not a directory,
/// else every `*.sql` file directly inside it, in file-name order.
pub(crate) fn sql_files(path: &Path) -> Result<Vec<PathBuf>, SqlError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| SqlError::io(path, "read directory", &e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| SqlError::io(path, "read directory", &e))?;
        let file = entry.path();
        if file.extension().is_some_and(|ext| ext == "sql") && file.is_file() {
            files.push(file);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// A file's text; invalid UTF-8 is decoded lossily (invalid bytes become
/// U+FFFD), as the OSSIM files are not all valid UTF-8.
pub(crate) fn read_lossy(path: &Path) -> Result<String, SqlError> {
    let bytes = std::fs::read(path).map_err(|e| SqlError::io(path, "read file", &e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
