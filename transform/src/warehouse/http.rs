//! The server backend: a ClickHouse server (self-hosted, or Scaleway's managed ClickHouse over HTTPS) through
//! its HTTP interface, with the official `clickhouse` crate. Statements go as the request body, parameters as
//! `param_*`, settings as URL parameters, Parquet as a chunked `INSERT ... FORMAT Parquet` body.

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};

use super::{Param, Result, SESSION_SETTINGS, Warehouse, WarehouseError};

pub struct ServerWarehouse {
    client: clickhouse::Client,
    shown: String,
}

impl ServerWarehouse {
    /// Connects, creates `database` if needed and checks the credentials with a first statement.
    pub async fn connect(
        url: &str,
        user: &str,
        password: Option<SecretString>,
        database: &str,
    ) -> Result<ServerWarehouse> {
        let shown = format!("{url} (database {database}, user {user})");
        let mut client = clickhouse::Client::default().with_url(url).with_user(user);
        if let Some(password) = password {
            client = client.with_password(password.expose_secret());
        }
        for (name, value) in SESSION_SETTINGS {
            client = client.with_setting(*name, *value);
        }
        let bootstrap = ServerWarehouse { client: client.clone(), shown: shown.clone() };
        bootstrap.execute(&format!("CREATE DATABASE IF NOT EXISTS {database}"), &[]).await?;
        Ok(ServerWarehouse { client: client.with_database(database), shown })
    }

    fn map_error(&self, sql: &str, error: clickhouse::error::Error) -> WarehouseError {
        match error {
            clickhouse::error::Error::BadResponse(message) => {
                let (code, message) = split_code(&message);
                if code == Some(516) {
                    return WarehouseError::Unreachable {
                        warehouse: self.shown.clone(),
                        reason: "authentication failed: check the user and COSTLAKE_CLICKHOUSE_PASSWORD".into(),
                    };
                }
                WarehouseError::query(code, sql, &message)
            }
            clickhouse::error::Error::Network(source) => {
                WarehouseError::Unreachable { warehouse: self.shown.clone(), reason: root_cause(source.as_ref()) }
            }
            clickhouse::error::Error::TimedOut => {
                WarehouseError::Unreachable { warehouse: self.shown.clone(), reason: "timed out".into() }
            }
            other => WarehouseError::query(None, sql, &other.to_string()),
        }
    }

    fn statement(&self, sql: &str, params: &[Param]) -> clickhouse::query::Query {
        // `query_raw`: the SQL is sent verbatim (no client-side `?` binding); values travel as parameters.
        params.iter().fold(self.client.query_raw(sql), |query, (name, value)| query.param(name, value.as_str()))
    }
}

fn split_code(message: &str) -> (Option<i64>, String) {
    let trimmed = message.trim();
    let body = trimmed.strip_prefix("Code: ").and_then(|rest| rest.split_once(". "));
    match body {
        Some((code, rest)) if code.parse::<i64>().is_ok() => {
            (code.parse().ok(), rest.strip_prefix("DB::Exception: ").unwrap_or(rest).to_string())
        }
        _ => (None, trimmed.to_string()),
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut source = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

#[async_trait]
impl Warehouse for ServerWarehouse {
    fn describe(&self) -> String {
        format!("ClickHouse server {}", self.shown)
    }

    async fn execute(&self, sql: &str, params: &[Param]) -> Result<()> {
        self.statement(sql, params).execute().await.map_err(|e| self.map_error(sql, e))
    }

    async fn query(&self, sql: &str, params: &[Param], format: &str) -> Result<Bytes> {
        let mut cursor = self.statement(sql, params).fetch_bytes(format).map_err(|e| self.map_error(sql, e))?;
        cursor.collect().await.map_err(|e| self.map_error(sql, e))
    }

    async fn insert(
        &self,
        table: &str,
        format: &str,
        mut data: BoxStream<'static, std::result::Result<Bytes, String>>,
    ) -> Result<()> {
        let sql = format!("INSERT INTO {table} FORMAT {format}");
        let insert_error = |message: String| WarehouseError::Insert { table: table.to_string(), message };
        let mut insert = self.client.insert_formatted_with(sql.clone());
        while let Some(chunk) = data.next().await {
            // Dropping `insert` without `end()` aborts the request: the server discards the partial body.
            let chunk = chunk.map_err(insert_error)?;
            insert.send(chunk).await.map_err(|e| self.map_error(&sql, e))?;
        }
        insert.end().await.map_err(|e| match self.map_error(&sql, e) {
            WarehouseError::Query { message, .. } => insert_error(message),
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_server_error_codes() {
        let (code, message) =
            split_code("Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED)");
        assert_eq!(code, Some(516));
        assert!(message.starts_with("default: Authentication failed"));
        assert_eq!(split_code("boom"), (None, "boom".to_string()));
    }
}
