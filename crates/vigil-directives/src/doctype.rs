//! The DOCTYPE of a root directive file: external entity declarations
//! (`<!ENTITY name SYSTEM 'path'>`) in the internal subset. Element and attribute-list
//! declarations are skipped (the loader validates by itself); parameter entities, internal
//! (text) entities and unparsed entities are refused.

use crate::diagnostic::Diagnostic;
use crate::model::Location;
use crate::position::LineIndex;

/// One `<!ENTITY name SYSTEM 'path'>`.
#[derive(Debug, Clone)]
pub(crate) struct EntityDecl {
    pub(crate) name: String,
    /// The system literal as written (for OSSIM an absolute path).
    pub(crate) system: String,
    /// Where `<!ENTITY` is.
    pub(crate) location: Location,
}

/// What a DOCTYPE declares.
#[derive(Debug, Clone, Default)]
pub(crate) struct Doctype {
    /// External general entities, first declaration of each name only.
    pub(crate) entities: Vec<EntityDecl>,
    /// Findings that do not stop the load (a name declared twice).
    pub(crate) warnings: Vec<Diagnostic>,
}

impl Doctype {
    /// The declaration of entity `name`.
    pub(crate) fn entity(&self, name: &str) -> Option<&EntityDecl> {
        self.entities.iter().find(|e| e.name == name)
    }
}

struct Cursor<'a, 'i> {
    s: &'a str,
    i: usize,
    base: usize,
    index: &'a LineIndex<'i>,
}

impl Cursor<'_, '_> {
    fn rest(&self) -> &str {
        self.s.get(self.i..).unwrap_or_default()
    }
    fn skip_ws(&mut self) -> bool {
        let before = self.i;
        let n = self.rest().len() - self.rest().trim_start().len();
        self.i += n;
        self.i > before
    }
    fn eat(&mut self, prefix: &str) -> bool {
        if self.rest().starts_with(prefix) {
            self.i += prefix.len();
            true
        } else {
            false
        }
    }
    fn error(&self, at: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(
            self.index.location(self.base + at),
            format!("DOCTYPE: {}", message.into()),
        )
    }
    fn name(&mut self) -> Result<String, Diagnostic> {
        let len = self
            .rest()
            .find(|c: char| c.is_whitespace() || "[]>'\"%;".contains(c))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error(self.i, "expected a name"));
        }
        let name = self.rest().get(..len).unwrap_or_default().to_string();
        self.i += len;
        Ok(name)
    }
    fn literal(&mut self) -> Result<String, Diagnostic> {
        let start = self.i;
        let quote = match self.rest().chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error(start, "expected a quoted literal")),
        };
        let body = self.rest().get(1..).unwrap_or_default();
        let Some(end) = body.find(quote) else {
            return Err(self.error(start, "unterminated literal"));
        };
        let value = body.get(..end).unwrap_or_default().to_string();
        self.i += end + 2;
        Ok(value)
    }
    /// Skip to just after the next `>` that is not inside a quoted literal.
    fn skip_decl(&mut self, start: usize) -> Result<(), Diagnostic> {
        let mut quote = None;
        for (k, c) in self.rest().char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    self.i += k + 1;
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(self.error(start, "unterminated declaration"))
    }
    fn skip_until(&mut self, start: usize, end: &str) -> Result<(), Diagnostic> {
        match self.rest().find(end) {
            Some(k) => {
                self.i += k + end.len();
                Ok(())
            }
            None => Err(self.error(start, format!("missing `{end}`"))),
        }
    }
}

/// Parse DOCTYPE `content` (what follows `<!DOCTYPE`), which starts at byte `base` of the file.
pub(crate) fn parse(
    index: &LineIndex<'_>,
    content: &str,
    base: usize,
) -> Result<Doctype, Diagnostic> {
    let mut c = Cursor {
        s: content,
        i: 0,
        base,
        index,
    };
    let mut doctype = Doctype::default();
    c.skip_ws();
    c.name()?;
    c.skip_ws();
    if c.eat("SYSTEM") {
        c.skip_ws();
        c.literal()?;
    } else if c.eat("PUBLIC") {
        c.skip_ws();
        c.literal()?;
        c.skip_ws();
        c.literal()?;
    }
    c.skip_ws();
    if c.eat("[") {
        loop {
            c.skip_ws();
            let start = c.i;
            if c.eat("]") {
                break;
            } else if c.eat("<!--") {
                c.skip_until(start, "-->")?;
            } else if c.eat("<?") {
                c.skip_until(start, "?>")?;
            } else if c.eat("<!ENTITY") {
                entity(&mut c, start, &mut doctype)?;
            } else if c.eat("<!ELEMENT") || c.eat("<!ATTLIST") || c.eat("<!NOTATION") {
                c.skip_decl(start)?;
            } else if c.rest().starts_with('%') {
                return Err(c.error(start, "parameter entity references are not supported"));
            } else if c.rest().is_empty() {
                return Err(c.error(start, "internal subset is not closed with `]`"));
            } else {
                return Err(c.error(start, "unexpected content in the internal subset"));
            }
        }
        c.skip_ws();
    }
    if !c.rest().is_empty() {
        return Err(c.error(c.i, "unexpected content after the DOCTYPE declarations"));
    }
    Ok(doctype)
}

fn entity(c: &mut Cursor<'_, '_>, start: usize, doctype: &mut Doctype) -> Result<(), Diagnostic> {
    if !c.skip_ws() {
        return Err(c.error(start, "expected whitespace after <!ENTITY"));
    }
    if c.rest().starts_with('%') {
        return Err(c.error(start, "parameter entities are not supported"));
    }
    let name = c.name()?;
    c.skip_ws();
    let system = if c.eat("SYSTEM") {
        c.skip_ws();
        c.literal()?
    } else if c.eat("PUBLIC") {
        c.skip_ws();
        c.literal()?;
        c.skip_ws();
        c.literal()?
    } else {
        return Err(c.error(
            start,
            format!("entity `{name}`: only external entities (SYSTEM 'file') are supported"),
        ));
    };
    c.skip_ws();
    if c.rest().starts_with("NDATA") {
        return Err(c.error(
            start,
            format!("entity `{name}`: unparsed (NDATA) entities are not supported"),
        ));
    }
    if !c.eat(">") {
        return Err(c.error(c.i, format!("entity `{name}`: expected `>`")));
    }
    let location = c.index.location(c.base + start);
    if let Some(first) = doctype.entity(&name) {
        let message = format!(
            "entity `{name}` declared again (the first declaration, at {}, is used)",
            first.location
        );
        doctype
            .warnings
            .push(Diagnostic::warning(location, message));
    } else {
        doctype.entities.push(EntityDecl {
            name,
            system,
            location,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn run(content: &str) -> Result<Doctype, Diagnostic> {
        let index = LineIndex::new(Path::new("d.xml"), content);
        parse(&index, content, 0)
    }

    #[test]
    fn entities_and_skipped_declarations() {
        let d = run(
            "directives SYSTEM 'x.dtd' [\n<!-- a > -->\n<!ELEMENT a (b)>\n\
                     <!ATTLIST a x CDATA \">\">\n<!ENTITY one SYSTEM '/etc/one.xml'>\n\
                     <!ENTITY two PUBLIC 'p' \"two.xml\" >\n<!ENTITY one SYSTEM 'again.xml'>\n]",
        )
        .expect("parses");
        let names: Vec<_> = d
            .entities
            .iter()
            .map(|e| (e.name.as_str(), e.system.as_str()))
            .collect();
        assert_eq!(names, [("one", "/etc/one.xml"), ("two", "two.xml")]);
        assert_eq!(d.entities[0].location.line, 5);
        assert_eq!(d.warnings.len(), 1);
        assert_eq!(d.warnings[0].location.line, 7);
    }

    #[test]
    fn refused_declarations() {
        for bad in [
            "d [ <!ENTITY x 'text'> ]",
            "d [ <!ENTITY % p SYSTEM 'p.xml'> ]",
            "d [ %p; ]",
            "d [ <!ENTITY x SYSTEM 'x' NDATA gif> ]",
            "d [ <!ENTITY x SYSTEM 'x.xml'",
            "d [ <!ENTITY x SYSTEM 'x.xml> ]",
            "d [ junk ]",
            "d [ <!ENTITY x SYSTEM 'x.xml'>",
            "d SYSTEM 'x' junk",
        ] {
            let e = run(bad).expect_err(bad);
            assert!(e.message.starts_with("DOCTYPE: "), "{e}");
        }
    }
}
