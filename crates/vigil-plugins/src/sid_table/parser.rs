//! Statement parser: turns tokens into `plugin` / `plugin_sid` rows.
//!
//! Understood: `INSERT [IGNORE] [INTO] table (columns) VALUES (…), (…)` and
//! `REPLACE [INTO] table (columns) VALUES …` for the tables `plugin` and
//! `plugin_sid` (optionally `db.table`, optionally in backticks). Every other
//! statement is counted as skipped. Values are literals only: numbers,
//! strings and `NULL`.

use super::lexer::{Located, Pos, Token, TokenKind, tokenize};
use super::{PluginInfo, PluginKind, SidInfo};

/// Default priority and reliability of a `plugin_sid` row (schema defaults).
const DEFAULT_SCORE: u8 = 1;
const MAX_PRIORITY: u8 = 5;
const MAX_RELIABILITY: u8 = 10;

/// One row of a VALUES list, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Row {
    Plugin {
        info: PluginInfo,
        ignore: bool,
    },
    Sid {
        plugin_id: u32,
        sid: u32,
        info: SidInfo,
        ignore: bool,
    },
}

#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub rows: Vec<Row>,
    pub skipped_statements: usize,
}

/// Parses a whole file; fails on the first error.
pub(super) fn parse(text: &str) -> Result<Parsed, Located> {
    let tokens = tokenize(text)?;
    let mut parsed = Parsed::default();
    let mut start = 0;
    for (index, token) in tokens.iter().enumerate() {
        if token.is_punct(';') || token.kind == TokenKind::Eof {
            let statement = tokens.get(start..index).unwrap_or_default();
            if !statement.is_empty() {
                parse_statement(statement, token.pos, &mut parsed)?;
            }
            start = index + 1;
        }
    }
    Ok(parsed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Plugin,
    PluginSid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    // plugin
    Id,
    Type,
    Description,
    // plugin_sid
    PluginId,
    Sid,
    CategoryId,
    SubcategoryId,
    ClassId,
    Priority,
    Reliability,
    // both
    Name,
    /// A real column we do not keep (`ctx`, `vendor`, `aro`, …).
    Unused,
}

impl Table {
    fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("plugin") {
            Some(Self::Plugin)
        } else if name.eq_ignore_ascii_case("plugin_sid") {
            Some(Self::PluginSid)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Plugin => "plugin",
            Self::PluginSid => "plugin_sid",
        }
    }

    /// The table's columns in the OSSIM schema.
    fn columns(self) -> &'static [(&'static str, Field)] {
        match self {
            Self::Plugin => &[
                ("id", Field::Id),
                ("type", Field::Type),
                ("name", Field::Name),
                ("description", Field::Description),
                ("ctx", Field::Unused),
                ("product_type", Field::Unused),
                ("vendor", Field::Unused),
            ],
            Self::PluginSid => &[
                ("plugin_id", Field::PluginId),
                ("sid", Field::Sid),
                ("name", Field::Name),
                ("priority", Field::Priority),
                ("reliability", Field::Reliability),
                ("category_id", Field::CategoryId),
                ("subcategory_id", Field::SubcategoryId),
                ("class_id", Field::ClassId),
                ("plugin_ctx", Field::Unused),
                ("aro", Field::Unused),
            ],
        }
    }

    fn required(self) -> &'static [(&'static str, Field)] {
        match self {
            Self::Plugin => &[
                ("id", Field::Id),
                ("type", Field::Type),
                ("name", Field::Name),
            ],
            Self::PluginSid => &[
                ("plugin_id", Field::PluginId),
                ("sid", Field::Sid),
                ("name", Field::Name),
            ],
        }
    }
}

#[derive(Debug)]
enum ValueKind {
    Null,
    Number(String),
    Text(String),
}

#[derive(Debug)]
struct Value {
    kind: ValueKind,
    pos: Pos,
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
    fn column_list(&mut self, table: Table) -> Result<Vec<Field>, Located> {
        let open = self.expect_punct('(')?;
        let mut names: Vec<&str> = Vec::new();
        let mut fields = Vec::new();
        loop {
            let (name, pos) = self.name("a column name")?;
            let field = table
                .columns()
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(name))
                .map(|&(_, field)| field)
                .ok_or_else(|| {
                    Located::new(
                        pos,
                        format!("unknown column `{name}` in table `{}`", table.name()),
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
        for &(name, field) in table.required() {
            if !fields.contains(&field) {
                return Err(Located::new(
                    open,
                    format!(
                        "`{}` column list lacks required column `{name}`",
                        table.name()
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
}

fn parse_statement(tokens: &[Token], end: Pos, parsed: &mut Parsed) -> Result<(), Located> {
    let mut cursor = Cursor {
        tokens,
        index: 0,
        end,
    };
    let ignore = if cursor.eat_keyword("INSERT") {
        cursor.eat_keyword("IGNORE")
    } else if cursor.eat_keyword("REPLACE") {
        false
    } else {
        parsed.skipped_statements += 1;
        return Ok(());
    };
    cursor.eat_keyword("INTO");
    let Some(table) = Table::from_name(cursor.table_name()?) else {
        parsed.skipped_statements += 1;
        return Ok(());
    };
    let fields = cursor.column_list(table)?;
    if !(cursor.eat_keyword("VALUES") || cursor.eat_keyword("VALUE")) {
        return Err(cursor.unexpected("VALUES"));
    }
    loop {
        let (open, values) = cursor.tuple()?;
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
        let row = Record {
            fields: &fields,
            values: &values,
            tuple: open,
        };
        parsed.rows.push(match table {
            Table::Plugin => row.plugin(ignore)?,
            Table::PluginSid => row.sid(ignore)?,
        });
        if !cursor.eat_punct(',') {
            break;
        }
    }
    if cursor.peek().is_some() {
        return Err(cursor.unexpected("`,` or `;`"));
    }
    Ok(())
}

/// One VALUES tuple matched against its column list (same length).
struct Record<'a> {
    fields: &'a [Field],
    values: &'a [Value],
    /// Position of the tuple's `(`.
    tuple: Pos,
}

impl Record<'_> {
    fn get(&self, field: Field) -> Option<&Value> {
        let index = self.fields.iter().position(|&f| f == field)?;
        self.values.get(index)
    }

    /// A required column: present (checked by `column_list`) and an integer.
    fn required_id(&self, field: Field, column: &str) -> Result<u32, Located> {
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

    fn optional_id(&self, field: Field, column: &str) -> Result<Option<u32>, Located> {
        self.get(field)
            .map_or(Ok(None), |value| optional_u32(value, column))
    }

    /// Priority or reliability: missing or NULL → 1, else must be in `0..=max`.
    fn score(&self, field: Field, column: &str, max: u8) -> Result<u8, Located> {
        let Some(value) = self.get(field) else {
            return Ok(DEFAULT_SCORE);
        };
        match integer(value, column)? {
            None => Ok(DEFAULT_SCORE),
            Some(n) => u8::try_from(n)
                .ok()
                .filter(|&score| score <= max)
                .ok_or_else(|| {
                    Located::new(value.pos, format!("{column} {n} is out of range 0..={max}"))
                }),
        }
    }

    fn text(&self, field: Field) -> Option<String> {
        match &self.get(field)?.kind {
            ValueKind::Null => None,
            ValueKind::Number(text) | ValueKind::Text(text) => Some(text.clone()),
        }
    }

    fn required_text(&self, field: Field, column: &str) -> Result<String, Located> {
        match self.text(field) {
            Some(text) => Ok(text),
            None => Err(Located::new(
                self.get(field).map_or(self.tuple, |v| v.pos),
                format!("`{column}` must not be NULL"),
            )),
        }
    }

    fn plugin(&self, ignore: bool) -> Result<Row, Located> {
        let info = PluginInfo {
            id: self.required_id(Field::Id, "id")?,
            kind: PluginKind::from(self.required_id(Field::Type, "type")?),
            name: self.required_text(Field::Name, "name")?,
            description: self.text(Field::Description).unwrap_or_default(),
        };
        Ok(Row::Plugin { info, ignore })
    }

    fn sid(&self, ignore: bool) -> Result<Row, Located> {
        Ok(Row::Sid {
            plugin_id: self.required_id(Field::PluginId, "plugin_id")?,
            sid: self.required_id(Field::Sid, "sid")?,
            info: SidInfo {
                name: self.required_text(Field::Name, "name")?,
                priority: self.score(Field::Priority, "priority", MAX_PRIORITY)?,
                reliability: self.score(Field::Reliability, "reliability", MAX_RELIABILITY)?,
                category_id: self.optional_id(Field::CategoryId, "category_id")?,
                subcategory_id: self.optional_id(Field::SubcategoryId, "subcategory_id")?,
                class_id: self.optional_id(Field::ClassId, "class_id")?,
            },
            ignore,
        })
    }
}

/// An integer literal or a string holding one (MySQL converts `'12'`);
/// `NULL` gives `None`.
fn integer(value: &Value, column: &str) -> Result<Option<i64>, Located> {
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
