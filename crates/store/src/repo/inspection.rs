//! Checklist templates and inspections (the caller checks the task's scope first).

use diesel::prelude::*;

use crate::{
    DbConn, StoreResult, WriteTx,
    models::{InspectionRow, TemplateRow},
    schema::{checklist_templates, inspections},
};

/// Every version of every template, by code then version.
pub fn templates(conn: &mut DbConn) -> StoreResult<Vec<TemplateRow>> {
    Ok(checklist_templates::table
        .order((
            checklist_templates::code.asc(),
            checklist_templates::version.asc(),
        ))
        .select(TemplateRow::as_select())
        .load(conn)?)
}

/// One version of a template.
pub fn template(conn: &mut DbConn, code: &str, version: i32) -> StoreResult<Option<TemplateRow>> {
    Ok(checklist_templates::table
        .find((code, version))
        .select(TemplateRow::as_select())
        .first(conn)
        .optional()?)
}

/// The latest version number of a template, if any.
pub fn latest_version(conn: &mut DbConn, code: &str) -> StoreResult<Option<i32>> {
    Ok(checklist_templates::table
        .filter(checklist_templates::code.eq(code))
        .select(diesel::dsl::max(checklist_templates::version))
        .first::<Option<i32>>(conn)?)
}

/// Stores a new template version.
pub fn insert_template(tx: &mut WriteTx<'_>, row: &TemplateRow) -> StoreResult<()> {
    diesel::insert_into(checklist_templates::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// A task's inspection, if started.
pub fn get(conn: &mut DbConn, task_id: &str) -> StoreResult<Option<InspectionRow>> {
    Ok(inspections::table
        .find(task_id)
        .select(InspectionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Starts an inspection.
pub fn insert(tx: &mut WriteTx<'_>, row: &InspectionRow) -> StoreResult<()> {
    diesel::insert_into(inspections::table)
        .values(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Saves an inspection's answers and sign-off.
pub fn update(tx: &mut WriteTx<'_>, row: &InspectionRow) -> StoreResult<()> {
    diesel::update(inspections::table.find(&row.task_id))
        .set(row)
        .execute(tx.conn())?;
    Ok(())
}

/// Records that the task's inspection, if started, has a check-in on site.
pub fn mark_checked_in(tx: &mut WriteTx<'_>, task_id: &str) -> StoreResult<()> {
    diesel::update(inspections::table.find(task_id))
        .set(inspections::checked_in.eq(true))
        .execute(tx.conn())?;
    Ok(())
}

/// Counts one more stored piece of evidence for an item of the task's inspection, if started.
pub fn add_evidence(tx: &mut WriteTx<'_>, task_id: &str, item_key: &str) -> StoreResult<()> {
    let Some(mut row) = get(tx.conn(), task_id)? else {
        return Ok(());
    };
    let mut counts: std::collections::BTreeMap<String, u32> =
        serde_json::from_str(&row.evidence).unwrap_or_default();
    *counts.entry(item_key.to_owned()).or_default() += 1;
    row.evidence = serde_json::to_string(&counts)
        .map_err(|e| crate::StoreError::Config(format!("inspection evidence: {e}")))?;
    update(tx, &row)
}
