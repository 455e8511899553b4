//! Pages of stored records, bounded by count *and* bytes: a page ends at its
//! count or once the rows read make up [`PAGE_BYTES`], whichever comes
//! first (always at least one row), and says where the next page starts.
//! Rows are streamed, so a page of huge rows never sits whole in memory.

use futures_util::TryStreamExt;
use serde::Serialize;

use crate::RegistryError;

/// The most bytes of rows one page carries.
pub const PAGE_BYTES: usize = 4 << 20;

/// One page of records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The records.
    pub items: Vec<T>,
    /// The cursor for the next page, when there may be more.
    pub next: Option<String>,
}

/// Read up to `limit` rows of `query`, stopping after [`PAGE_BYTES`] of
/// them; `size` measures a row, `cursor` names the next page after a row.
pub(crate) async fn read<'q, T>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    pool: &sqlx::AnyPool,
    limit: usize,
    mut decode: impl FnMut(&sqlx::any::AnyRow) -> Result<(T, usize, String), RegistryError>,
) -> Result<Page<T>, RegistryError> {
    let mut rows = query.fetch(pool);
    let mut items = Vec::new();
    let mut bytes = 0usize;
    while let Some(row) = rows.try_next().await? {
        let (item, size, cursor) = decode(&row)?;
        items.push(item);
        bytes += size;
        if items.len() >= limit || bytes >= PAGE_BYTES {
            return Ok(Page {
                items,
                next: Some(cursor),
            });
        }
    }
    Ok(Page { items, next: None })
}
