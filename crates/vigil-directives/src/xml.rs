//! XML reading: a file's text into a small tree of elements, attributes (each with its own
//! location), entity references and stray text, using quick-xml for the markup.
//!
//! Only what directive files need is kept: comments, processing instructions, the XML
//! declaration and whitespace are dropped; the DOCTYPE is handed to [`crate::doctype`].

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::diagnostic::Diagnostic;
use crate::doctype::{self, Doctype};
use crate::model::Location;
use crate::position::LineIndex;

/// Deepest element nesting accepted (a directive of 255 levels needs about 512).
const MAX_DEPTH: usize = 1024;

/// One attribute: name, decoded value, and where its name starts.
#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub(crate) name: String,
    pub(crate) value: String,
    pub(crate) location: Location,
}

/// One element with its attributes (in document order) and content.
#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) location: Location,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) children: Vec<Node>,
}

impl Element {
    /// The attribute called `name`, if present.
    pub(crate) fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// Content of an element (or of the top level of a file).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A child element.
    Element(Element),
    /// `&name;` for a name other than the five predefined XML entities.
    EntityRef {
        /// The entity name.
        name: String,
        /// Where the `&` is.
        location: Location,
    },
    /// Character data that is not just whitespace (where it starts).
    Text {
        /// Where the first non-blank character is.
        location: Location,
    },
}

/// A parsed file: its DOCTYPE (if any) and its top-level nodes.
#[derive(Debug)]
pub(crate) struct Document {
    pub(crate) doctype: Option<Doctype>,
    pub(crate) nodes: Vec<Node>,
}

/// Parse `text` (indexed by `index`). Every well-formedness problem is an `Err` located where
/// it was found.
pub(crate) fn parse(index: &LineIndex<'_>, text: &str) -> Result<Document, Diagnostic> {
    let mut reader = Reader::from_str(text);
    let mut doctype = None;
    let mut seen_element = false;
    let mut top: Vec<Node> = Vec::new();
    let mut stack: Vec<Element> = Vec::new();
    let malformed = |offset: usize, message: String| {
        Diagnostic::error(index.location(offset), format!("malformed XML: {message}"))
    };
    loop {
        let start = offset_of(reader.buffer_position());
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(malformed(offset_of(reader.error_position()), e.to_string())),
        };
        let node = match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) if stack.len() >= MAX_DEPTH => {
                let _ = e;
                return Err(malformed(
                    start,
                    format!("elements nested deeper than {MAX_DEPTH}"),
                ));
            }
            Event::Start(e) => {
                seen_element = true;
                stack.push(element(index, text, start, &e)?);
                continue;
            }
            Event::Empty(e) => {
                seen_element = true;
                Node::Element(element(index, text, start, &e)?)
            }
            Event::End(_) => match stack.pop() {
                Some(done) => Node::Element(done),
                None => return Err(malformed(start, "unexpected end tag".into())),
            },
            Event::Text(t) => match blank_prefix(t.as_bytes()) {
                Some(skip) => Node::Text {
                    location: index.location(start + skip),
                },
                None => continue,
            },
            Event::CData(t) => {
                if t.trim_ascii().is_empty() {
                    continue;
                }
                Node::Text {
                    location: index.location(start),
                }
            }
            Event::GeneralRef(r) => {
                let name = r.to_string();
                if name.starts_with('#') && reference(&name).is_none() {
                    return Err(malformed(
                        start,
                        format!("invalid character reference `&{name};`"),
                    ));
                }
                if name.starts_with('#') || PREDEFINED.iter().any(|(n, _)| *n == name) {
                    Node::Text {
                        location: index.location(start),
                    }
                } else {
                    Node::EntityRef {
                        name,
                        location: index.location(start),
                    }
                }
            }
            Event::DocType(d) => {
                if seen_element || doctype.is_some() {
                    return Err(malformed(start, "DOCTYPE after the first element".into()));
                }
                let content = d.to_string();
                let content_start = text
                    .get(start..)
                    .and_then(|rest| rest.find(content.as_str()))
                    .map_or(start, |i| start + i);
                doctype = Some(doctype::parse(index, &content, content_start)?);
                continue;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => continue,
        };
        match stack.last_mut() {
            Some(parent) => parent.children.push(node),
            None => top.push(node),
        }
    }
    if let Some(open) = stack.last() {
        return Err(Diagnostic::error(
            open.location.clone(),
            format!("malformed XML: element <{}> is never closed", open.name),
        ));
    }
    Ok(Document {
        doctype,
        nodes: top,
    })
}

/// `Some(offset of the first non-blank byte)` if `bytes` is not all whitespace.
fn blank_prefix(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| !b.is_ascii_whitespace())
}

fn offset_of(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// Build an element (no children yet) from a start tag found at byte `start` (its `<`).
fn element(
    index: &LineIndex<'_>,
    text: &str,
    start: usize,
    tag: &BytesStart<'_>,
) -> Result<Element, Diagnostic> {
    let raw: &[u8] = tag.as_bytes();
    let name_len = tag.name().as_ref().len();
    let base = start + 1;
    // The tag's bytes are a slice of `text` starting right after `<`.
    let raw = text.as_bytes().get(base..base + raw.len()).unwrap_or(raw);
    let name = String::from_utf8_lossy(raw.get(..name_len).unwrap_or_default()).into_owned();
    let attrs = scan_attributes(raw, name_len)
        .map_err(|(at, message)| {
            Diagnostic::error(
                index.location(base + at),
                format!("malformed XML: {message}"),
            )
        })?
        .into_iter()
        .map(|(at, name, value)| Attr {
            name,
            value,
            location: index.location(base + at),
        })
        .collect();
    Ok(Element {
        name,
        location: index.location(start),
        attrs,
        children: Vec::new(),
    })
}

type Scanned = Vec<(usize, String, String)>;

/// Split the attributes of a start tag's bytes (`raw`, after the `name_len` bytes of its name)
/// into (offset in `raw`, name, decoded value).
fn scan_attributes(raw: &[u8], name_len: usize) -> Result<Scanned, (usize, String)> {
    let mut out: Scanned = Vec::new();
    let mut i = name_len;
    let len = raw.len();
    let at = |i: usize| raw.get(i).copied();
    loop {
        let before = i;
        while at(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= len {
            return Ok(out);
        }
        if i == before {
            return Err((i, "expected whitespace before an attribute".into()));
        }
        let name_start = i;
        while at(i).is_some_and(|b| !b.is_ascii_whitespace() && b != b'=') {
            i += 1;
        }
        let name = String::from_utf8_lossy(raw.get(name_start..i).unwrap_or_default()).into_owned();
        while at(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if at(i) != Some(b'=') {
            return Err((name_start, format!("attribute `{name}` has no value")));
        }
        i += 1;
        while at(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let quote = match at(i) {
            Some(q @ (b'"' | b'\'')) => q,
            _ => return Err((i, format!("the value of attribute `{name}` is not quoted"))),
        };
        let value_start = i + 1;
        let Some(value_len) = raw
            .get(value_start..)
            .and_then(|v| v.iter().position(|&b| b == quote))
        else {
            return Err((i, format!("the value of attribute `{name}` is not closed")));
        };
        let value = String::from_utf8_lossy(
            raw.get(value_start..value_start + value_len)
                .unwrap_or_default(),
        );
        let value = decode(&value).map_err(|(o, m)| (value_start + o, m))?;
        if out.iter().any(|(_, n, _)| *n == name) {
            return Err((name_start, format!("attribute `{name}` given twice")));
        }
        out.push((name_start, name, value));
        i = value_start + value_len + 1;
    }
}

/// The five predefined XML entities.
const PREDEFINED: [(&str, char); 5] = [
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
];

/// Decode an attribute value: predefined entities, character references, and attribute-value
/// normalisation (tab, CR, LF and CRLF each become one space). Errors carry a byte offset.
pub(crate) fn decode(value: &str) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '<' => return Err((i, "`<` in an attribute value".into())),
            '\r' => {
                if chars.peek().is_some_and(|&(_, n)| n == '\n') {
                    chars.next();
                }
                out.push(' ');
            }
            '\t' | '\n' => out.push(' '),
            '&' => {
                let rest = value.get(i + 1..).unwrap_or_default();
                let Some(end) = rest.find(';') else {
                    return Err((i, "`&` without a closing `;` in an attribute value".into()));
                };
                let name = rest.get(..end).unwrap_or_default();
                out.push(reference(name).ok_or_else(|| {
                    (
                        i,
                        format!(
                            "`&{name};` in an attribute value: only &lt; &gt; &amp; &quot; &apos; \
                             and character references are allowed"
                        ),
                    )
                })?);
                for _ in 0..name.chars().count() + 1 {
                    chars.next();
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The character a reference (`lt`, `#65`, `#x41`) stands for.
fn reference(name: &str) -> Option<char> {
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix('x') {
            Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                u32::from_str_radix(hex, 16).ok()?
            }
            None if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                number.parse().ok()?
            }
            _ => return None,
        };
        return char::from_u32(code).filter(|&c| c != '\0');
    }
    PREDEFINED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn doc(text: &str) -> Result<Document, Diagnostic> {
        parse(&LineIndex::new(Path::new("t.xml"), text), text)
    }

    #[test]
    fn attributes_are_decoded_and_located() {
        let d =
            doc("<a>\n <b x=\"1&amp;2&#65;&#x42;\"\n   y='&lt;&quot;\tz'/></a>").expect("parses");
        let Some(Node::Element(a)) = d.nodes.first() else {
            panic!("no element")
        };
        let Some(Node::Element(b)) = a.children.first() else {
            panic!("no child")
        };
        assert_eq!(b.attrs[0].value, "1&2AB");
        assert_eq!(
            (b.attrs[0].location.line, b.attrs[0].location.column),
            (2, 5)
        );
        assert_eq!(b.attrs[1].value, "<\" z");
        assert_eq!(
            (b.attrs[1].location.line, b.attrs[1].location.column),
            (3, 4)
        );
        assert_eq!((b.location.line, b.location.column), (2, 2));
    }

    #[test]
    fn malformed_inputs_are_located() {
        let cases = [
            ("<a>\n<b></a>", (2, 4)),
            ("<a>\n  <b x=\"&foo;\"/></a>", (2, 9)),
            ("<a x=\"1\" x=\"2\"/>", (1, 10)),
            ("<a x=1/>", (1, 6)),
            ("<a>\n <b>", (2, 2)),
            ("<a>&#;</a>", (1, 4)),
        ];
        for (text, (line, column)) in cases {
            let e = doc(text).expect_err(text);
            assert_eq!(
                (e.location.line, e.location.column),
                (line, column),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn entity_references_and_text() {
        let d = doc("<d>\n  &cat; x &lt;</d>").expect("parses");
        let Some(Node::Element(a)) = d.nodes.first() else {
            panic!("no element")
        };
        assert!(
            matches!(&a.children[0], Node::EntityRef { name, location } if name == "cat" && location.column == 3)
        );
        assert!(matches!(&a.children[1], Node::Text { location } if location.column == 9));
    }
}
