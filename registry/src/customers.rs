//! Customer profiles of each tenant: kept in the database, imported as
//! NDJSON or CSV, erased on request (profile and events), and read by the
//! runtime for components. Masking by permission is the runtime's business,
//! not this module's: profiles here are always whole.

use sqlx::Row;
use tokio::runtime::Handle;

use crate::access::{Action, On};
use crate::audit::Change;
use crate::bounds::{self, Bound};
use crate::principal::Principal;
use crate::{CustomerDirectory, CustomerProfile, Database, RegistryError, StateError, now_ms};

/// The most profiles one import may carry.
pub const MAX_IMPORT: usize = 100_000;

/// Check the fields; `row` (from 1) names the record in an import.
pub fn validate(p: &CustomerProfile, row: usize) -> Result<(), RegistryError> {
    let fail = |field: &'static str, message: String| {
        Err(RegistryError::invalid(
            field,
            format!("record {row}: {message}"),
        ))
    };
    // Every field against its bound (length, no NUL), naming the record.
    let in_record = |e: RegistryError| match e {
        RegistryError::Invalid { field, message } => RegistryError::Invalid {
            field,
            message: format!("record {row}: {message}"),
        },
        other => other,
    };
    let bounded = |bound: Bound, text: &str| bound.text(text).map_err(in_record);
    bounded(bounds::CUSTOMER_ID, &p.id)?;
    if p.id.trim().is_empty() {
        return fail("id", "must not be blank".to_owned());
    }
    let field = bounds::CUSTOMER_FIELD;
    bounded(field.named("name"), &p.name)?;
    for (name, value) in [
        ("company", &p.company),
        ("email", &p.email),
        ("phone", &p.phone),
    ] {
        if let Some(value) = value {
            bounded(field.named(name), value)?;
        }
    }
    if let Some(address) = &p.address {
        bounded(bounds::CUSTOMER_ADDRESS, address)?;
    }
    bounds::CUSTOMER_TAGS
        .count(p.tags.len())
        .map_err(in_record)?;
    for tag in &p.tags {
        bounded(bounds::CUSTOMER_TAG, tag)?;
    }
    if p.name.trim().is_empty() {
        return fail("name", format!("customer `{}`: must not be blank", p.id));
    }
    if let Some(email) = &p.email
        && !(email.contains('@') && email.len() <= 254 && !email.contains(char::is_whitespace))
    {
        return fail(
            "email",
            format!("customer `{}`: `{email}` is not an e-mail address", p.id),
        );
    }
    if let Some(phone) = &p.phone
        && !phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()".contains(c))
    {
        return fail(
            "phone",
            format!("customer `{}`: `{phone}` is not a phone number", p.id),
        );
    }
    Ok(())
}

/// Profiles from NDJSON: one JSON object per line, blank lines skipped.
pub fn from_ndjson(text: &str) -> Result<Vec<CustomerProfile>, RegistryError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: CustomerProfile = serde_json::from_str(line)
            .map_err(|e| RegistryError::invalid("body", format!("line {}: {e}", i + 1)))?;
        validate(&p, i + 1)?;
        out.push(p);
    }
    Ok(out)
}

/// Profiles from CSV with a header row: `id,name,company,email,phone,address,tags`
/// (any order; `tags` separated by `;`; empty cells are absent).
pub fn from_csv(text: &str) -> Result<Vec<CustomerProfile>, RegistryError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| RegistryError::invalid("body", format!("the CSV header: {e}")))?
        .clone();
    let known = ["id", "name", "company", "email", "phone", "address", "tags"];
    if let Some(unknown) = headers.iter().find(|h| !known.contains(h)) {
        return Err(RegistryError::invalid(
            "body",
            format!(
                "unknown CSV column `{unknown}` (columns: {})",
                known.join(", ")
            ),
        ));
    }
    let column = |name: &str| headers.iter().position(|h| h == name);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record =
            record.map_err(|e| RegistryError::invalid("body", format!("CSV record {row}: {e}")))?;
        let cell = |name: &str| {
            column(name)
                .and_then(|c| record.get(c))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let p = CustomerProfile {
            id: cell("id").unwrap_or_default(),
            name: cell("name").unwrap_or_default(),
            company: cell("company"),
            email: cell("email"),
            phone: cell("phone"),
            address: cell("address"),
            tags: cell("tags")
                .map(|t| {
                    t.split(';')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        };
        validate(&p, row)?;
        out.push(p);
    }
    Ok(out)
}

fn profile_from_row(row: &sqlx::any::AnyRow) -> Result<CustomerProfile, RegistryError> {
    let tags: String = row.try_get("tags")?;
    Ok(CustomerProfile {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        company: row.try_get("company")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        address: row.try_get("address")?,
        tags: serde_json::from_str(&tags)
            .map_err(|e| RegistryError::Corrupt(format!("stored tags: {e}")))?,
    })
}

const COLUMNS: &str = "id, name, company, email, phone, address, tags";

impl crate::Registry {
    /// Create or replace profiles (the tenant's director, operators), all or
    /// none. The audit entry records how many and which ids, not the
    /// contact details.
    pub async fn import_customers(
        &self,
        actor: &Principal,
        tenant: &str,
        profiles: Vec<CustomerProfile>,
    ) -> Result<usize, RegistryError> {
        actor.may(Action::ImportCustomers, On::Tenant(tenant))?;
        if profiles.len() > MAX_IMPORT {
            return Err(RegistryError::invalid(
                "body",
                format!(
                    "{} profiles; one import takes at most {MAX_IMPORT}",
                    profiles.len()
                ),
            ));
        }
        for (i, p) in profiles.iter().enumerate() {
            validate(p, i + 1)?;
        }
        let mut change = Change::begin(&self.db, actor).await?;
        self.tenant_exists(change.conn(), tenant).await?;
        let at = now_ms();
        for p in &profiles {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO customers (tenant, {COLUMNS}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (tenant, id) DO UPDATE SET name = excluded.name, company = excluded.company, \
                 email = excluded.email, phone = excluded.phone, address = excluded.address, \
                 tags = excluded.tags, updated_at = excluded.updated_at"
            )))
            .bind(tenant)
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.company)
            .bind(&p.email)
            .bind(&p.phone)
            .bind(&p.address)
            .bind(serde_json::to_string(&p.tags).unwrap_or_else(|_| "[]".to_owned()))
            .bind(at)
            .execute(change.conn())
            .await?;
        }
        let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).take(100).collect();
        change
            .record(
                "customers.import",
                tenant,
                Some(tenant),
                &serde_json::Value::Null,
                &serde_json::json!({ "count": profiles.len(), "ids": ids }),
            )
            .await?;
        change.commit().await?;
        Ok(profiles.len())
    }

    /// One profile, whole (the tenant's director, operators).
    pub async fn customer(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
    ) -> Result<CustomerProfile, RegistryError> {
        actor.may(Action::ReadCustomers, On::Tenant(tenant))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM customers WHERE tenant = $1 AND id = $2"
        )))
        .bind(tenant)
        .bind(id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or_else(|| RegistryError::not_found("customer", format!("{tenant}/{id}")))?;
        profile_from_row(&row)
    }

    /// Profiles by id, after `after`, at most `limit`.
    pub async fn customers(
        &self,
        actor: &Principal,
        tenant: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CustomerProfile>, RegistryError> {
        actor.may(Action::ReadCustomers, On::Tenant(tenant))?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM customers WHERE tenant = $1 AND id > $2 ORDER BY id LIMIT $3"
        )))
        .bind(tenant)
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(profile_from_row).collect()
    }

    /// Erase a customer's profile and every event about them, recording in
    /// the same audited change what the tenant's components removed
    /// (`components`, already done by the host through each component).
    /// Approval requests about the customer go too. Not found only when
    /// nothing at all was held: no profile, event or approval, and
    /// `held_elsewhere` false. The profile's presence, the events removed
    /// and the approvals removed.
    pub async fn erase_customer(
        &self,
        actor: &Principal,
        tenant: &str,
        id: &str,
        components: &serde_json::Value,
        held_elsewhere: bool,
    ) -> Result<(bool, u64, u64), RegistryError> {
        actor.may(Action::EraseCustomer, On::Tenant(tenant))?;
        let mut change = Change::begin(&self.db, actor).await?;
        let profile = sqlx::query("DELETE FROM customers WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(change.conn())
            .await?
            .rows_affected();
        let events = sqlx::query("DELETE FROM events WHERE tenant = $1 AND customer = $2")
            .bind(tenant)
            .bind(id)
            .execute(change.conn())
            .await?
            .rows_affected();
        let approvals = sqlx::query("DELETE FROM approvals WHERE tenant = $1 AND customer = $2")
            .bind(tenant)
            .bind(id)
            .execute(change.conn())
            .await?
            .rows_affected();
        let recorded = Self::erase_recorded_customer(change.conn(), tenant, id).await?;
        if profile == 0 && events == 0 && approvals == 0 && recorded == 0 && !held_elsewhere {
            return Err(RegistryError::not_found(
                "customer",
                format!("{tenant}/{id}"),
            ));
        }
        change
            .record(
                "customer.erase",
                &format!("{tenant}/{id}"),
                Some(tenant),
                &serde_json::json!({
                    "profile": profile == 1, "events": events, "approvals": approvals,
                    "recorded_calls": recorded,
                }),
                &serde_json::json!({ "components": components }),
            )
            .await?;
        change.commit().await?;
        Ok((profile == 1, events, approvals))
    }
}
/// Profiles in the database, for the runtime (blocking, like the state store).
#[derive(Debug, Clone)]
pub struct SqlCustomers {
    db: Database,
    runtime: Handle,
}

impl SqlCustomers {
    /// Profiles in `db`. Call inside a Tokio runtime.
    pub fn new(db: Database) -> Self {
        SqlCustomers {
            db,
            runtime: Handle::current(),
        }
    }
}

impl CustomerDirectory for SqlCustomers {
    fn profile(&self, tenant: &str, id: &str) -> Result<Option<CustomerProfile>, StateError> {
        // No stored id holds a NUL (imports refuse it), and PostgreSQL
        // cannot even compare one.
        if id.contains('\0') {
            return Ok(None);
        }
        crate::db::wait(&self.runtime, async {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM customers WHERE tenant = $1 AND id = $2"
            )))
            .bind(tenant)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
            row.as_ref().map(profile_from_row).transpose()
        })
        .map_err(|e: RegistryError| StateError::Storage(e.to_string()))
    }
}
