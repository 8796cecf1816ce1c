//! Borrowers, always through the caller's scope.

use crate::keys::InKeys;
use diesel::prelude::*;

use crate::{
    DbConn, PageOf, PageRequest, ScopeFilter, StoreError, StoreResult, WriteTx,
    models::{BorrowerChangeset, BorrowerRow},
    page::seek,
    repo::chunked,
    schema::borrowers,
    scope::subtree_org_ids,
};

/// Orders a borrower list may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BorrowerSort {
    /// Creation order (ids are UUIDv7).
    Id,
    /// Name, then id.
    Name,
}

/// Filters of a borrower list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BorrowerFilter {
    /// Path prefix of an organisation subtree.
    pub org_path_prefix: Option<String>,
    /// Responsible officer.
    pub officer_id: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Group.
    pub group_id: Option<String>,
    /// Text contained in the name or credit code.
    pub text: Option<String>,
}

type Boxed<'a> = borrowers::BoxedQuery<'a, crate::conn::MultiBackend>;

fn scoped<'a>(scope: &ScopeFilter) -> Boxed<'a> {
    let q = borrowers::table.into_boxed();
    match scope {
        ScopeFilter::Officer { officer, .. } => q.filter(borrowers::officer_id.eq(officer.clone())),
        ScopeFilter::Subtree { path_prefix } => {
            q.filter(borrowers::organisation_id.eq_any(subtree_org_ids!(path_prefix)))
        }
        ScopeFilter::Nothing => q.filter(borrowers::id.is_null()),
    }
}

/// Inserts a borrower.
pub fn insert(tx: &mut WriteTx<'_>, row: &BorrowerRow) -> StoreResult<()> {
    diesel::insert_into(borrowers::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Inserts many borrowers at once (the demo generator).
pub fn insert_many(tx: &mut WriteTx<'_>, rows: &[BorrowerRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        crate::on_backend!(tx.conn(), |c| diesel::insert_into(borrowers::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(())
}

/// One borrower, if the scope covers it.
pub fn get(conn: &mut DbConn, scope: &ScopeFilter, id: &str) -> StoreResult<BorrowerRow> {
    Ok(scoped(scope)
        .filter(borrowers::id.eq(id.to_owned()))
        .select(BorrowerRow::as_select())
        .first(conn)?)
}

/// A page of borrowers in scope.
pub fn list(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    filter: &BorrowerFilter,
    page: &PageRequest<BorrowerSort>,
) -> StoreResult<PageOf<BorrowerRow>> {
    let mut q = scoped(scope);
    if let Some(prefix) = &filter.org_path_prefix {
        q = q.filter(borrowers::organisation_id.eq_any(subtree_org_ids!(prefix)));
    }
    if let Some(officer) = &filter.officer_id {
        q = q.filter(borrowers::officer_id.eq(officer.clone()));
    }
    if let Some(kind) = &filter.kind {
        q = q.filter(borrowers::kind.eq(kind.clone()));
    }
    if let Some(group) = &filter.group_id {
        q = q.filter(borrowers::group_id.eq(group.clone()));
    }
    if let Some(text) = &filter.text {
        let pattern = like_contains(text);
        q = q.filter(
            borrowers::name
                .like(pattern.clone())
                .escape('\\')
                .or(borrowers::credit_code.like(pattern).escape('\\')),
        );
    }
    let after = page.after.clone();
    let q = match page.sort {
        BorrowerSort::Id => seek!(
            q,
            borrowers::id,
            borrowers::id,
            page.descending,
            after.map(|(_, id)| (id.clone(), id))
        ),
        BorrowerSort::Name => seek!(q, borrowers::name, borrowers::id, page.descending, after),
    };
    let rows = q
        .limit(page.limit + 1)
        .select(BorrowerRow::as_select())
        .load(conn)?;
    Ok(PageOf::from_overfetch(rows, page.limit))
}

/// Applies changes to a borrower in scope.
pub fn update(
    tx: &mut WriteTx<'_>,
    scope: &ScopeFilter,
    id: &str,
    changes: &BorrowerChangeset,
) -> StoreResult<BorrowerRow> {
    get(tx.conn(), scope, id)?;
    let n = diesel::update(borrowers::table.find(id))
        .set(changes)
        .execute(tx.conn())?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(borrowers::table
        .find(id)
        .select(BorrowerRow::as_select())
        .first(tx.conn())?)
}

/// `%text%` for LIKE, with the wildcards in `text` escaped.
pub(crate) fn like_contains(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Ids of an officer's borrowers in scope.
pub fn ids_of_officer(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    officer: &str,
) -> StoreResult<Vec<String>> {
    Ok(scoped(scope)
        .filter(borrowers::officer_id.eq(officer.to_owned()))
        .select(borrowers::id)
        .load(conn)?)
}

/// Of these borrowers, those in scope.
pub fn visible_ids(
    conn: &mut DbConn,
    scope: &ScopeFilter,
    ids: &[String],
) -> StoreResult<Vec<String>> {
    chunked(ids, |chunk| {
        Ok(scoped(scope)
            .filter(borrowers::id.in_keys(chunk))
            .select(borrowers::id)
            .load(conn)?)
    })
}
