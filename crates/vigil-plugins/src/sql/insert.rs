//! Statement parser: turns tokens into records of the tables a loader knows.
//!
//! Understood: `INSERT [IGNORE] [INTO] table (columns) VALUES (…), (…)` and
//! `REPLACE [INTO] table (columns) VALUES …` for the loader's tables
//! (optionally `db.table`, optionally in backticks). Every other statement is
//! counted as skipped. Values are literals only: numbers, strings and `NULL`.
//! Column lists are checked against the table's schema (unknown, repeated
//! and missing required columns are errors) before any tuple is read.

use super::lexer::{Located, Pos, Token, TokenKind, tokenize};

/// One table a loader reads: its name, its columns in the OSSIM schema
/// (each tagged with the loader's field type `F`) and the required ones.
#[derive(Debug)]
pub(crate) struct Table<F: 'static> {
    pub name: &'static str,
    /// Every column of the schema; columns the loader does not keep still
    /// need a tag (so they are accepted) and are simply never read.
    pub columns: &'static [(&'static str, F)],
    pub required: &'static [(&'static str, F)],
}

/// The rows of a whole text and how many statements were not inserts into
/// one of the loader's tables.
#[derive(Debug)]
pub(crate) struct Parsed<R> {
    pub rows: Vec<R>,
    pub skipped_statements: usize,
}

/// Parses a whole text; fails on the first error. `row` turns one VALUES
/// tuple of `tables[index]` into a row; its flag is true for `INSERT IGNORE`.
pub(crate) fn parse<F, R>(
    text: &str,
    tables: &[Table<F>],
    mut row: impl FnMut(usize, &Record<'_, F>, bool) -> Result<R, Located>,
) -> Result<Parsed<R>, Located>
where
    F: Copy + PartialEq,
{
    let tokens = tokenize(text)?;
    let mut parsed = Parsed {
        rows: Vec::new(),
        skipped_statements: 0,
    };
    let mut start = 0;
    for (index, token) in tokens.iter().enumerate() {
        if token.is_punct(';') || token.kind == TokenKind::Eof {
            let statement = tokens.get(start..index).unwrap_or_default();
            if !statement.is_empty() {
                let mut cursor = Cursor {
                    tokens: statement,
                    index: 0,
                    end: token.pos,
                };
                cursor.statement(tables, &mut parsed, &mut row)?;
            }
            start = index + 1;
        }
    }
    Ok(parsed)
}

#[derive(Debug)]
pub(crate) enum ValueKind {
    Null,
    Number(String),
    Text(String),
}

#[derive(Debug)]
pub(crate) struct Value {
    pub kind: ValueKind,
    pub pos: Pos,
}

/// A cursor over one statement's tokens; `end` is the position of its `;`.
struct Cursor<'a> {
    tokens: &'a [Token],
    index: usize,
    end: Pos,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.index)
    }

    fn pos(&self) -> Pos {
        self.peek().map_or(self.end, |t| t.pos)
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.is_keyword(keyword));
        if found {
            self.index += 1;
        }
        found
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let found = self.peek().is_some_and(|t| t.is_punct(c));
        if found {
            self.index += 1;
        }
        found
    }

    fn unexpected(&self, expected: &str) -> Located {
        let found = match self.peek().map(|t| &t.kind) {
            None => "end of statement".to_owned(),
            Some(TokenKind::Ident(word)) => format!("`{word}`"),
            Some(TokenKind::QuotedIdent(word)) => format!("`{word}`"),
            Some(TokenKind::Number(number)) => number.clone(),
            Some(TokenKind::Str(_)) => "a string".to_owned(),
            Some(TokenKind::Punct(c)) => format!("`{c}`"),
            Some(TokenKind::Eof) => "end of input".to_owned(),
        };
        Located::new(self.pos(), format!("expected {expected}, found {found}"))
    }

    fn expect_punct(&mut self, c: char) -> Result<Pos, Located> {
        let pos = self.pos();
        if self.eat_punct(c) {
            Ok(pos)
        } else {
            Err(self.unexpected(&format!("`{c}`")))
        }
    }

    fn name(&mut self, what: &str) -> Result<(&'a str, Pos), Located> {
        match self.peek() {
            Some(token) => match token.name() {
                Some(name) => {
                    self.index += 1;
                    Ok((name, token.pos))
                }
                None => Err(self.unexpected(what)),
            },
            None => Err(self.unexpected(what)),
        }
    }

    /// `table` or `database.table`; returns the table part.
    fn table_name(&mut self) -> Result<&'a str, Located> {
        let (mut name, _) = self.name("a table name")?;
        if self.eat_punct('.') {
            name = self.name("a table name")?.0;
        }
        Ok(name)
    }

    /// `(col, col, …)` checked against the table's schema.
    fn column_list<F: Copy + PartialEq>(&mut self, table: &Table<F>) -> Result<Vec<F>, Located> {
        let open = self.expect_punct('(')?;
        let mut names: Vec<&str> = Vec::new();
        let mut fields = Vec::new();
        loop {
            let (name, pos) = self.name("a column name")?;
            let field = table
                .columns
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(name))
                .map(|&(_, field)| field)
                .ok_or_else(|| {
                    Located::new(
                        pos,
                        format!("unknown column `{name}` in table `{}`", table.name),
                    )
                })?;
            if names.iter().any(|seen| seen.eq_ignore_ascii_case(name)) {
                return Err(Located::new(pos, format!("column `{name}` listed twice")));
            }
            names.push(name);
            fields.push(field);
            if !self.eat_punct(',') {
                break;
            }
        }
        self.expect_punct(')')?;
        for &(name, field) in table.required {
            if !fields.contains(&field) {
                return Err(Located::new(
                    open,
                    format!(
                        "`{}` column list lacks required column `{name}`",
                        table.name
                    ),
                ));
            }
        }
        Ok(fields)
    }

    /// `(value, value, …)`; returns the position of `(` and the values.
    fn tuple(&mut self) -> Result<(Pos, Vec<Value>), Located> {
        let open = self.expect_punct('(')?;
        let mut values = Vec::new();
        if self.eat_punct(')') {
            return Ok((open, values));
        }
        loop {
            let pos = self.pos();
            let kind = match self.peek().map(|t| &t.kind) {
                Some(TokenKind::Number(number)) => ValueKind::Number(number.clone()),
                Some(TokenKind::Str(text)) => ValueKind::Text(text.clone()),
                Some(TokenKind::Ident(word)) if word.eq_ignore_ascii_case("NULL") => {
                    ValueKind::Null
                }
                _ => return Err(self.unexpected("a number, string or NULL")),
            };
            self.index += 1;
            values.push(Value { kind, pos });
            if self.eat_punct(')') {
                return Ok((open, values));
            }
            if !self.eat_punct(',') {
                return Err(self.unexpected("`,` or `)`"));
            }
        }
    }

    fn statement<F, R>(
        &mut self,
        tables: &[Table<F>],
        parsed: &mut Parsed<R>,
        row: &mut impl FnMut(usize, &Record<'_, F>, bool) -> Result<R, Located>,
    ) -> Result<(), Located>
    where
        F: Copy + PartialEq,
    {
        let ignore = if self.eat_keyword("INSERT") {
            self.eat_keyword("IGNORE")
        } else if self.eat_keyword("REPLACE") {
            false
        } else {
            parsed.skipped_statements += 1;
            return Ok(());
        };
        self.eat_keyword("INTO");
        let name = self.table_name()?;
        let Some((index, table)) = tables
            .iter()
            .enumerate()
            .find(|(_, t)| t.name.eq_ignore_ascii_case(name))
        else {
            parsed.skipped_statements += 1;
            return Ok(());
        };
        let fields = self.column_list(table)?;
        if !(self.eat_keyword("VALUES") || self.eat_keyword("VALUE")) {
            return Err(self.unexpected("VALUES"));
        }
        loop {
            let (open, values) = self.tuple()?;
            if values.len() != fields.len() {
                return Err(Located::new(
                    open,
                    format!(
                        "VALUES tuple has {} values but the column list has {}",
                        values.len(),
                        fields.len()
                    ),
                ));
            }
            let record = Record {
                fields: &fields,
                values: &values,
                tuple: open,
            };
            parsed.rows.push(row(index, &record, ignore)?);
            if !self.eat_punct(',') {
                break;
            }
        }
        if self.peek().is_some() {
            return Err(self.unexpected("`,` or `;`"));
        }
        Ok(())
    }
}

/// One VALUES tuple matched against its column list (same length).
pub(crate) struct Record<'a, F> {
    fields: &'a [F],
    values: &'a [Value],
    /// Position of the tuple's `(`.
    tuple: Pos,
}

impl<F: Copy + PartialEq> Record<'_, F> {
    /// The value of a column, if the column list names it.
    pub fn get(&self, field: F) -> Option<&Value> {
        let index = self.fields.iter().position(|&f| f == field)?;
        self.values.get(index)
    }

    /// A required column: present (checked by the column list) and an
    /// integer in `0..=u32::MAX`.
    pub fn required_id(&self, field: F, column: &str) -> Result<u32, Located> {
        let Some(value) = self.get(field) else {
            return Err(Located::new(
                self.tuple,
                format!("missing column `{column}`"),
            ));
        };
        match optional_u32(value, column)? {
            Some(id) => Ok(id),
            None => Err(Located::new(
                value.pos,
                format!("`{column}` must not be NULL"),
            )),
        }
    }

    /// An optional integer column: missing or `NULL` give `None`.
    pub fn optional_id(&self, field: F, column: &str) -> Result<Option<u32>, Located> {
        self.get(field)
            .map_or(Ok(None), |value| optional_u32(value, column))
    }

    /// The text of a column (numbers as written); missing or `NULL` give
    /// `None`.
    pub fn text(&self, field: F) -> Option<String> {
        match &self.get(field)?.kind {
            ValueKind::Null => None,
            ValueKind::Number(text) | ValueKind::Text(text) => Some(text.clone()),
        }
    }

    /// A text column that must not be `NULL`.
    pub fn required_text(&self, field: F, column: &str) -> Result<String, Located> {
        match self.text(field) {
            Some(text) => Ok(text),
            None => Err(Located::new(
                self.get(field).map_or(self.tuple, |v| v.pos),
                format!("`{column}` must not be NULL"),
            )),
        }
    }
}

/// An integer literal or a string holding one (MySQL converts `'12'`);
/// `NULL` gives `None`.
pub(crate) fn integer(value: &Value, column: &str) -> Result<Option<i64>, Located> {
    let text = match &value.kind {
        ValueKind::Null => return Ok(None),
        ValueKind::Number(text) => text.as_str(),
        ValueKind::Text(text) => text.trim(),
    };
    text.parse::<i64>().map(Some).map_err(|_| {
        Located::new(
            value.pos,
            format!("`{column}` needs an integer, found {text:?}"),
        )
    })
}

fn optional_u32(value: &Value, column: &str) -> Result<Option<u32>, Located> {
    match integer(value, column)? {
        None => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            Located::new(
                value.pos,
                format!("`{column}` value {n} is out of range 0..={}", u32::MAX),
            )
        }),
    }
}
