//! Keyset pagination: a page is "the next `limit` rows after (value, id)" in a stable order, so
//! it stays fast and consistent on millions of rows while rows are being added.

/// What page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<S> {
    /// Sort key.
    pub sort: S,
    /// Descending order.
    pub descending: bool,
    /// The sort value and id of the last row of the previous page.
    pub after: Option<(String, String)>,
    /// Rows per page.
    pub limit: i64,
}

/// One page of rows and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct PageOf<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Whether a next page exists.
    pub has_more: bool,
}

impl<T> PageOf<T> {
    /// Splits `limit + 1` fetched rows into a page and the has-more flag.
    pub(crate) fn from_overfetch(mut items: Vec<T>, limit: i64) -> Self {
        let has_more = items.len() as i64 > limit;
        items.truncate(limit.max(0) as usize);
        Self { items, has_more }
    }
}

/// Adds the keyset condition and the order for `$col` then `$id_col` to a boxed query.
macro_rules! seek {
    ($query:expr, $col:expr, $id_col:expr, $descending:expr, $after:expr) => {{
        let mut q = $query;
        if let Some((value, id)) = $after {
            q = if $descending {
                q.filter(
                    $col.lt(value.clone())
                        .or($col.eq(value).and($id_col.lt(id))),
                )
            } else {
                q.filter(
                    $col.gt(value.clone())
                        .or($col.eq(value).and($id_col.gt(id))),
                )
            };
        }
        if $descending {
            q.order(($col.desc(), $id_col.desc()))
        } else {
            q.order(($col.asc(), $id_col.asc()))
        }
    }};
}
pub(crate) use seek;
