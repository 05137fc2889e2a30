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

use std::path::{Path, PathBuf};

use lexer::Located;

/// A load error with its place: `file:line:column: reason` (lines and columns 1-based,
/// columns in characters); for errors with no place in the text (reading a file or directory)
/// `file: reason`.
pub use vigil_textpos::FileError as SqlError;

/// The error of a token at a located place of `file`.
pub(crate) fn error_at(file: &str, located: Located) -> SqlError {
    SqlError::new(file, located.pos.line, located.pos.column, located.reason)
}

/// The error of a failed read of `path`.
pub(crate) fn io_error(path: &Path, what: &str, error: &std::io::Error) -> SqlError {
    SqlError::whole_file(
        path.display().to_string(),
        format!("cannot {what}: {error}"),
    )
}

/// The files `load_path` reads: `path` itself when it is not a directory,
/// else every `*.sql` file directly inside it, in file-name order.
pub(crate) fn sql_files(path: &Path) -> Result<Vec<PathBuf>, SqlError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(path).map_err(|e| crate::sql::io_error(path, "read directory", &e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| crate::sql::io_error(path, "read directory", &e))?;
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
    let bytes = std::fs::read(path).map_err(|e| crate::sql::io_error(path, "read file", &e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
