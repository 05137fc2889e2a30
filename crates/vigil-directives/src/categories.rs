//! `categories.xml`: which file holds which directive id range.

use std::path::{Path, PathBuf};

use crate::build::Ctx;
use crate::diagnostic::Diagnostic;
use crate::load::read;
use crate::model::Location;
use crate::position::LineIndex;
use crate::values;
use crate::xml::{self, Node};

/// One `<category name xml_file mini maxi/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// Display name.
    pub name: String,
    /// The category's directive file (a file name).
    pub xml_file: PathBuf,
    /// First directive id of the category (`mini`).
    pub min_id: u32,
    /// Last directive id of the category (`maxi`).
    pub max_id: u32,
    /// Where the element is.
    pub location: Location,
}

/// Load a `<categories>` file. A bad entry is dropped with an error diagnostic; `Err` only if
/// the file cannot be read or is not well-formed XML.
pub fn load_categories(path: &Path) -> Result<(Vec<Category>, Vec<Diagnostic>), Diagnostic> {
    let text = read(path)?;
    let index = LineIndex::new(path, &text);
    let doc = xml::parse(&index, &text)?;
    let mut cx = Ctx::default();
    let mut out = Vec::new();
    for node in &doc.nodes {
        let Some(Node::Element(root)) = cx.stray(node, "file").map(|()| node) else {
            continue;
        };
        if root.name != "categories" {
            cx.error(
                &root.location,
                None,
                format!("unknown element <{}> (expected <categories>)", root.name),
            );
            continue;
        }
        for node in &root.children {
            let Some(Node::Element(c)) = cx.stray(node, "categories").map(|()| node) else {
                continue;
            };
            if c.name != "category" {
                cx.error(
                    &c.location,
                    None,
                    format!("unknown element <{}> inside <categories>", c.name),
                );
                continue;
            }
            let mut one = Ctx::default();
            for a in &c.attrs {
                if !["name", "xml_file", "mini", "maxi"].contains(&a.name.as_str()) {
                    one.error(
                        &a.location,
                        Some(&a.name),
                        "unknown attribute of <category>",
                    );
                }
            }
            let name = one.required(c, "name").map(|a| a.value.clone());
            let file = one.required(c, "xml_file").map(|a| PathBuf::from(&a.value));
            let min = one
                .required(c, "mini")
                .and_then(|a| one.field(a, values::whole(&a.value, "a directive id")));
            let max = one
                .required(c, "maxi")
                .and_then(|a| one.field(a, values::whole(&a.value, "a directive id")));
            if let (Some(min), Some(max), Some(a)) = (min, max, c.attr("maxi"))
                && min > max
            {
                one.error(
                    &a.location,
                    Some("maxi"),
                    format!("range {min}-{max} ends before it starts"),
                );
            }
            if let (Some(name), Some(xml_file), Some(min_id), Some(max_id), false) =
                (name, file, min, max, one.failed)
            {
                out.push(Category {
                    name,
                    xml_file,
                    min_id,
                    max_id,
                    location: c.location.clone(),
                });
            }
            cx.diagnostics.append(&mut one.diagnostics);
        }
    }
    Ok((out, cx.diagnostics))
}
