//! `column IN (keys)` as one statement text, whatever the number of keys.
//!
//! diesel writes `eq_any` as `= ANY($1)` on PostgreSQL, one array bound, but on SQLite as
//! `IN (?, ?, …)`, one placeholder a key: the text changes with the number of keys, so diesel
//! does not cache the statement, and SQLite parses and plans it again on every call. Most
//! lookups of a posted transfer are such lists, and parsing them was a large part of what a
//! request cost. [`KeyIn`] binds the keys as one JSON array on SQLite
//! (`IN (SELECT value FROM json_each(?))`, still an index lookup per key), so each lookup is
//! prepared once per connection.

use diesel::{
    QueryResult,
    expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping},
    pg::Pg,
    query_builder::{AstPass, QueryFragment, QueryId},
    sql_types::{Array, Bool, Nullable, Text},
    sqlite::Sqlite,
};

use crate::conn::MultiBackend;

/// `column IN (keys)` for a text column; see the module.
#[derive(Debug, Clone, QueryId)]
pub struct KeyIn<C> {
    column: C,
    keys: Vec<String>,
    json: String,
}

/// Text columns, nullable or not, that [`InKeys::in_keys`] applies to.
pub trait TextKey {}
impl TextKey for Text {}
impl TextKey for Nullable<Text> {}

/// `column.in_keys(&keys)`: [`KeyIn`], for lists of keys whose length varies from call to call.
pub trait InKeys: Expression + Sized {
    /// The rows whose value of this column is one of `keys`.
    fn in_keys<K: AsRef<str>>(self, keys: &[K]) -> KeyIn<Self> {
        let keys: Vec<String> = keys.iter().map(|k| k.as_ref().to_owned()).collect();
        let json = serde_json::json!(keys).to_string();
        KeyIn {
            column: self,
            keys,
            json,
        }
    }
}

impl<C> InKeys for C
where
    C: Expression,
    C::SqlType: TextKey,
{
}

impl<C: Expression> Expression for KeyIn<C> {
    type SqlType = Bool;
}

impl<C, QS> AppearsOnTable<QS> for KeyIn<C>
where
    C: AppearsOnTable<QS>,
    Self: Expression,
{
}

impl<C, QS> SelectableExpression<QS> for KeyIn<C>
where
    C: SelectableExpression<QS>,
    Self: AppearsOnTable<QS>,
{
}

impl<C, GB> ValidGrouping<GB> for KeyIn<C>
where
    C: ValidGrouping<GB>,
{
    type IsAggregate = C::IsAggregate;
}

impl<C: QueryFragment<Pg>> QueryFragment<Pg> for KeyIn<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.keys)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for KeyIn<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C> QueryFragment<MultiBackend> for KeyIn<C>
where
    Self: QueryFragment<Pg> + QueryFragment<Sqlite>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}
