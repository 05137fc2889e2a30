//! The `plugin` and `plugin_sid` tables: their schema and how one VALUES
//! tuple becomes a [`Row`]. Statement syntax is [`crate::sql::insert`]'s.

use super::{PluginInfo, PluginKind, SidInfo};
use crate::sql::insert::{self, Record, Table, integer};
use crate::sql::lexer::Located;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    // plugin
    Id,
    Type,
    Description,
    ProductType,
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

/// Index of `plugin` in [`TABLES`].
const PLUGIN: usize = 0;

/// The two tables, with their columns in the OSSIM schema.
const TABLES: [Table<Field>; 2] = [
    Table {
        name: "plugin",
        columns: &[
            ("id", Field::Id),
            ("type", Field::Type),
            ("name", Field::Name),
            ("description", Field::Description),
            ("ctx", Field::Unused),
            ("product_type", Field::ProductType),
            ("vendor", Field::Unused),
        ],
        required: &[
            ("id", Field::Id),
            ("type", Field::Type),
            ("name", Field::Name),
        ],
    },
    Table {
        name: "plugin_sid",
        columns: &[
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
        required: &[
            ("plugin_id", Field::PluginId),
            ("sid", Field::Sid),
            ("name", Field::Name),
        ],
    },
];

/// Parses a whole file; fails on the first error.
pub(super) fn parse(text: &str) -> Result<insert::Parsed<Row>, Located> {
    insert::parse(text, &TABLES, |table, record, ignore| {
        if table == PLUGIN {
            plugin(record, ignore)
        } else {
            sid(record, ignore)
        }
    })
}

/// Priority or reliability: missing or NULL → 1, else must be in `0..=max`.
fn score(record: &Record<'_, Field>, field: Field, column: &str, max: u8) -> Result<u8, Located> {
    let Some(value) = record.get(field) else {
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

fn plugin(record: &Record<'_, Field>, ignore: bool) -> Result<Row, Located> {
    let info = PluginInfo {
        id: record.required_id(Field::Id, "id")?,
        kind: PluginKind::from(record.required_id(Field::Type, "type")?),
        name: record.required_text(Field::Name, "name")?,
        description: record.text(Field::Description).unwrap_or_default(),
        // OSSIM's default 0 means "no product type".
        product: record
            .optional_id(Field::ProductType, "product_type")?
            .filter(|&p| p != 0),
    };
    Ok(Row::Plugin { info, ignore })
}

fn sid(record: &Record<'_, Field>, ignore: bool) -> Result<Row, Located> {
    Ok(Row::Sid {
        plugin_id: record.required_id(Field::PluginId, "plugin_id")?,
        sid: record.required_id(Field::Sid, "sid")?,
        info: SidInfo {
            name: record.required_text(Field::Name, "name")?,
            priority: score(record, Field::Priority, "priority", MAX_PRIORITY)?,
            reliability: score(record, Field::Reliability, "reliability", MAX_RELIABILITY)?,
            category_id: record.optional_id(Field::CategoryId, "category_id")?,
            subcategory_id: record.optional_id(Field::SubcategoryId, "subcategory_id")?,
            class_id: record.optional_id(Field::ClassId, "class_id")?,
        },
        ignore,
    })
}
