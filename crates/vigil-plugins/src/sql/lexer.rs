//! Tokenizer for the small MySQL dialect of the plugin SQL files.
//!
//! Produces identifiers, backtick-quoted identifiers, numbers (optionally
//! negative), string literals (`'…'` or `"…"`, MySQL escapes), single-character
//! punctuation and a final end-of-input token. Comments (`-- `, `#`, `/* */`)
//! and whitespace are skipped. Every token carries its 1-based line and column
//! (columns count characters, not bytes).

/// A 1-based position in the input text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// An error with the position where it was detected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub pos: Pos,
    pub reason: String,
}

impl Located {
    pub fn new(pos: Pos, reason: impl Into<String>) -> Self {
        Self {
            pos,
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: keyword, table or column name, `NULL`.
    Ident(String),
    /// A `` `quoted` `` identifier (never a keyword).
    QuotedIdent(String),
    /// An integer or decimal literal, as written (may start with `-`).
    Number(String),
    /// A string literal with its escapes resolved.
    Str(String),
    /// Any other single character: `(`, `)`, `,`, `;`, `=`, `.`, …
    Punct(char),
    /// End of input.
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub pos: Pos,
}

impl Token {
    /// True for a bare identifier equal to `keyword` (ASCII case-insensitive).
    pub fn is_keyword(&self, keyword: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(word) if word.eq_ignore_ascii_case(keyword))
    }

    pub fn is_punct(&self, c: char) -> bool {
        self.kind == TokenKind::Punct(c)
    }

    /// The name of a bare or backtick-quoted identifier.
    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Ident(name) | TokenKind::QuotedIdent(name) => Some(name),
            _ => None,
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    index: usize,
    pos: Pos,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.index + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.index += 1;
        if c == '\n' {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    /// Skips whitespace and comments; errors on an unterminated `/*`.
    fn skip_trivia(&mut self) -> Result<(), Located> {
        loop {
            match (self.peek(0), self.peek(1), self.peek(2)) {
                (Some(c), _, _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('#'), _, _) => self.skip_line(),
                // MySQL needs whitespace (or a control character) after `--`.
                (Some('-'), Some('-'), None) => self.skip_line(),
                (Some('-'), Some('-'), Some(c)) if c.is_whitespace() || c.is_control() => {
                    self.skip_line();
                }
                (Some('/'), Some('*'), _) => {
                    let start = self.pos;
                    self.bump();
                    self.bump();
                    loop {
                        match self.bump() {
                            None => return Err(Located::new(start, "unterminated /* comment")),
                            Some('*') if self.peek(0) == Some('/') => {
                                self.bump();
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Reads a `'…'` or `"…"` literal; the opening quote is the next char.
    fn string(&mut self, start: Pos) -> Result<String, Located> {
        let quote = self.bump();
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return Err(Located::new(start, "unterminated string literal")),
                Some('\\') => match self.bump() {
                    None => return Err(Located::new(start, "unterminated string literal")),
                    Some(escaped) => match escaped {
                        '0' => text.push('\0'),
                        'b' => text.push('\u{8}'),
                        'n' => text.push('\n'),
                        'r' => text.push('\r'),
                        't' => text.push('\t'),
                        'Z' => text.push('\u{1a}'),
                        // MySQL keeps the backslash for the LIKE wildcards.
                        '%' | '_' => {
                            text.push('\\');
                            text.push(escaped);
                        }
                        other => text.push(other),
                    },
                },
                Some(c) if Some(c) == quote => {
                    if self.peek(0) == quote {
                        self.bump();
                        text.push(c);
                    } else {
                        return Ok(text);
                    }
                }
                Some(c) => text.push(c),
            }
        }
    }

    fn quoted_ident(&mut self, start: Pos) -> Result<String, Located> {
        self.bump();
        let mut name = String::new();
        loop {
            match self.bump() {
                None => return Err(Located::new(start, "unterminated `quoted` identifier")),
                Some('`') if self.peek(0) == Some('`') => {
                    self.bump();
                    name.push('`');
                }
                Some('`') => return Ok(name),
                Some(c) => name.push(c),
            }
        }
    }

    fn take_while(&mut self, text: &mut String, keep: impl Fn(char) -> bool) {
        while let Some(c) = self.peek(0) {
            if !keep(c) {
                break;
            }
            text.push(c);
            self.bump();
        }
    }

    fn number(&mut self) -> String {
        let mut text = String::new();
        if self.peek(0) == Some('-') {
            text.push('-');
            self.bump();
        }
        self.take_while(&mut text, |c| c.is_ascii_digit());
        if self.peek(0) == Some('.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            text.push('.');
            self.bump();
            self.take_while(&mut text, |c| c.is_ascii_digit());
        }
        text
    }

    fn next_token(&mut self) -> Result<Token, Located> {
        self.skip_trivia()?;
        let pos = self.pos;
        let kind = match (self.peek(0), self.peek(1)) {
            (None, _) => TokenKind::Eof,
            (Some('\'' | '"'), _) => TokenKind::Str(self.string(pos)?),
            (Some('`'), _) => TokenKind::QuotedIdent(self.quoted_ident(pos)?),
            (Some(c), _) if c.is_ascii_digit() => TokenKind::Number(self.number()),
            (Some('-'), Some(c)) if c.is_ascii_digit() => TokenKind::Number(self.number()),
            (Some(c), _) if c.is_alphabetic() || c == '_' || c == '$' => {
                let mut word = String::new();
                self.take_while(&mut word, |c| c.is_alphanumeric() || c == '_' || c == '$');
                TokenKind::Ident(word)
            }
            (Some(c), _) => {
                self.bump();
                TokenKind::Punct(c)
            }
        };
        Ok(Token { kind, pos })
    }
}

/// Splits `text` into tokens; the last token is always [`TokenKind::Eof`].
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token>, Located> {
    let mut lexer = Lexer {
        chars: text.chars().collect(),
        index: 0,
        pos: Pos { line: 1, column: 1 },
    };
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.kind == TokenKind::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        match tokenize(text) {
            Ok(tokens) => tokens.into_iter().map(|t| t.kind).collect(),
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn tokens_and_positions() {
        let tokens = tokenize("ab (\n  -7, 'x''y', `c d`) ;").expect("lexes");
        let got: Vec<(TokenKind, usize, usize)> = tokens
            .into_iter()
            .map(|t| (t.kind, t.pos.line, t.pos.column))
            .collect();
        assert_eq!(
            got,
            vec![
                (TokenKind::Ident("ab".into()), 1, 1),
                (TokenKind::Punct('('), 1, 4),
                (TokenKind::Number("-7".into()), 2, 3),
                (TokenKind::Punct(','), 2, 5),
                (TokenKind::Str("x'y".into()), 2, 7),
                (TokenKind::Punct(','), 2, 13),
                (TokenKind::QuotedIdent("c d".into()), 2, 15),
                (TokenKind::Punct(')'), 2, 20),
                (TokenKind::Punct(';'), 2, 22),
                (TokenKind::Eof, 2, 23),
            ]
        );
    }

    #[test]
    fn backslash_escapes_follow_mysql() {
        assert_eq!(
            kinds(r#"'a\'b\"c\\d\ne\:f\%g' "h\"i""j""#)[..2],
            [
                TokenKind::Str("a'b\"c\\d\ne:f\\%g".into()),
                TokenKind::Str("h\"i\"j".into())
            ]
        );
    }

    #[test]
    fn comments_are_skipped_but_not_inside_strings() {
        assert_eq!(
            kinds("# one\n-- two\n/* three\n */ 'a /* b' --\n--x"),
            vec![
                TokenKind::Str("a /* b".into()),
                TokenKind::Punct('-'),
                TokenKind::Punct('-'),
                TokenKind::Ident("x".into()),
                TokenKind::Eof,
            ]
        );
    }

    #[test]
    fn unterminated_things_report_their_start() {
        let cases = [
            ("x 'abc", 1, 3, "unterminated string literal"),
            ("\n  \"ab\\", 2, 3, "unterminated string literal"),
            ("`t", 1, 1, "unterminated `quoted` identifier"),
            ("a\n/* x", 2, 1, "unterminated /* comment"),
        ];
        for (text, line, column, reason) in cases {
            assert_eq!(
                tokenize(text),
                Err(Located::new(Pos { line, column }, reason)),
                "{text:?}"
            );
        }
    }
}
